"""How often corpus maps put an object on top of the previous one (`osuT5.beatmap.time_clashes`: within
`MIN_OBJECT_GAP_MS`, or while a slider, spinner or drumroll still runs), per std, taiko and catch: the
evidence behind dropping such objects from generated maps.

    python benchmarks/stacked_objects.py
"""

from __future__ import annotations

from collections import Counter

from quality import CORPUS, readable_maps

from osuT5.beatmap import GameMode, time_clashes
from osuT5.beatmap.objects import MIN_OBJECT_GAP_MS


def main() -> None:
    maps, with_clash, clashes = Counter(), Counter(), Counter()
    examples = []
    for path, beatmap, _ in readable_maps(sorted(CORPUS.rglob("*.osu"))):
        if beatmap.mode == GameMode.MANIA or not beatmap.hit_objects:
            continue
        found = sum(time_clashes(sorted(beatmap.hit_objects, key=lambda h: h.time)))
        mode = beatmap.mode.name.lower()
        maps[mode] += 1
        clashes[mode] += found
        if found:
            with_clash[mode] += 1
            examples.append(f"  {mode:5s} {found:5d} in {path.name[:70]}")
    print("\n".join(examples))
    for mode in maps:
        print(
            f"{mode:5s}: {with_clash[mode]} of {maps[mode]} maps have an object on top of the previous one ({clashes[mode]} objects)"
        )
    total = sum(maps.values())
    print(f"all:   {sum(with_clash.values())} of {total} maps (gap limit {MIN_OBJECT_GAP_MS:g} ms)")


if __name__ == "__main__":
    main()
