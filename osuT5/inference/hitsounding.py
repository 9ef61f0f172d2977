"""in_context=NO_HS: hitsound an existing map. The reference's events, stripped of their hitsounds, are
teacher-forced window by window; the model chooses only the hitsound and volume tokens of each timed
object (the slot where the grammar puts them, right before the type token). The chosen sounds are
then copied onto the reference's own objects, so every object stays exactly as it was."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from osuT5.beatmap import Beatmap, Slider
from osuT5.data.beatmap_events import map_events, timing_events
from osuT5.events import ContextType, EventType, group_time_ms, slice_events, split_groups
from osuT5.inference.decoding import SamplingOptions
from osuT5.inference.passes import GivenBlock, PassRunner, Stream
from osuT5.inference.postprocess import events_to_beatmap
from osuT5.inference.windows import Window
from osuT5.style import Conditions

SOUND_EVENTS = (EventType.HITSOUND, EventType.VOLUME)
# Groups that carry a hit sample in the format (timing markers, kiai and SV changes do not).
SOUNDED_TYPES = frozenset(
    {
        EventType.CIRCLE,
        EventType.SLIDER_HEAD,
        EventType.SLIDER_END,
        EventType.SPINNER_END,
        EventType.HOLD_NOTE,
        EventType.DRUMROLL,
        EventType.DENDEN,
    }
)


def add_hitsounds(
    runner: PassRunner,
    reference: Beatmap,
    template: Beatmap,
    conditions: Conditions,
    windows: list[Window],
    options: SamplingOptions,
    generator: torch.Generator,
    tick: Callable[[int], None],
) -> Beatmap:
    tokenizer = runner.tokenizer
    plain = [e for e in map_events(reference) if e.type not in SOUND_EVENTS]
    times = group_time_ms(plain)
    sound_ids = set()
    for kind in SOUND_EVENTS:
        first, last = tokenizer.type_range(kind)
        sound_ids |= set(range(first, last + 1))
    allowed = frozenset(sound_ids)
    given = GivenBlock(ContextType.TIMING, timing_events(reference, end_ms=runner.song_ms))
    stream = Stream(ContextType.MAP, conditions, [given])
    for window in windows:
        band = slice_events(plain, window.commit_from_ms, window.commit_to_ms or runner.song_ms + 1, times)
        groups = split_groups(band)
        segments = []
        for group in groups:
            ids = tokenizer.encode_events(group, window.start_ms)
            timed = group[0].type == EventType.TIME_SHIFT
            slot = allowed if timed and group[-1].type in SOUNDED_TYPES else None
            segments.append((ids[:-1], slot, ids[-1]))
        prompt = runner.prompt(stream, conditions, window)
        encoder = runner.decoder.encode(runner.mels([window]))
        chosen = runner.decoder.fill_slots(encoder, prompt, segments, options, generator)
        for group, picks in zip(groups, chosen, strict=True):
            stream.committed += [*group[:-1], *(tokenizer.decode(t) for t in picks), group[-1]]
        tick(1)
    generated = events_to_beatmap(stream.committed, template)
    return transfer_hitsounds(reference, generated)


def transfer_hitsounds(reference: Beatmap, generated: Beatmap) -> Beatmap:
    """The reference with each object's sounds taken from the generated object at the same time."""
    out = copy.deepcopy(reference)
    by_start = {(round(h.time), type(h)): h for h in generated.hit_objects}
    for h in out.hit_objects:
        source = by_start.get((round(h.time), type(h)))
        if source is None:
            continue
        h.hitsound, h.hit_sample = source.hitsound, copy.copy(source.hit_sample)
        if isinstance(h, Slider) and isinstance(source, Slider) and source.slides == h.slides:
            h.edge_sounds, h.edge_sets = list(source.edge_sounds), list(source.edge_sets)
    # Volumes live in greenlines: the generated ones hold the reference's SV and kiai (forced) and
    # the model's volumes.
    out.timing_points = generated.timing_points
    return out
