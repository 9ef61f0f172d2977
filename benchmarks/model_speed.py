"""Prints the model's speed split for one window: encoder, prompt prefill, and per-token cached decoding.

Usage: python benchmarks/model_speed.py [--preset tiny|small] [--threads 2] [--repeats 5]
Random weights, fp32, CPU; medians after a warm-up run (compare with /work/shared/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse

import torch
from timing import median_seconds  # benchmarks/timing.py

from osuT5.model import MODEL_PRESETS, OsuT5Config, OsuT5Model, count_parameters
from osuT5.tokenizer import SOS_ID, Tokenizer

PROMPT_TOKENS = 400
NEW_TOKENS = 40


@torch.inference_mode()
def measure(preset: str, repeats: int) -> dict[str, float]:
    tokenizer = Tokenizer()
    model = OsuT5Model(OsuT5Config(preset=preset, dropout=0.0), tokenizer).eval()
    mels = torch.randn(1, model.config.n_mels, model.config.max_source_frames)
    prompt = torch.randint(tokenizer.offset, tokenizer.vocab_size_in, (1, PROMPT_TOKENS))
    prompt[0, 0] = SOS_ID
    encoded = model.encode(mels)

    def decode_window() -> None:
        logits, cache = model.decode_step(encoded, prompt)
        for _ in range(NEW_TOKENS):
            token = logits[:, -1].argmax(-1, keepdim=True)
            logits, cache = model.decode_step(encoded, token, cache)

    encoder_s = median_seconds(lambda: model.encode(mels), repeats)
    prefill_s = median_seconds(lambda: model.decode_step(encoded, prompt), repeats)
    window_s = median_seconds(decode_window, repeats)
    return {
        "params_M": count_parameters(model) / 1e6,
        "frames": model.config.max_source_frames,
        "encoder_s": encoder_s,
        "prefill_s": prefill_s,
        "per_token_ms": (window_s - prefill_s) / NEW_TOKENS * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=list(MODEL_PRESETS), default="tiny")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    r = measure(args.preset, args.repeats)
    print(
        f"{args.preset}: {r['params_M']:.1f}M params, {args.threads} threads | "
        f"encoder ({r['frames']} frames) {r['encoder_s']:.3f} s | prefill {PROMPT_TOKENS} tokens {r['prefill_s']:.3f} s | "
        f"per new token {r['per_token_ms']:.1f} ms (median of {args.repeats})"
    )


if __name__ == "__main__":
    main()
