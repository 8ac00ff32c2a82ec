"""Helpers shared by the watermark tests: a small word-level tokenizer and a simulated generator."""

from __future__ import annotations

import itertools

import numpy as np

from railtrack.watermark.keys import WatermarkKey
from railtrack.watermark.prf import green_mask_np

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "go", "hu", "ji", "be", "fa", "zo"]
SPECIAL = ["[UNK]", "[PAD]"]


def word_list(n: int = 1200) -> list[str]:
    words = []
    for a, b, c in itertools.product(SYLLABLES, repeat=3):
        words.append(a + b + c)
        if len(words) == n:
            break
    return words


def make_tokenizer(n_words: int = 1200):
    """A whitespace word-level fast tokenizer (decode/encode round-trips exactly)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL + word_list(n_words))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]")
    tok.name_or_path = "railtrack-test-wordlevel"
    return tok


def words_of(ids, n_special: int = len(SPECIAL)) -> str:
    words = word_list(10_000)
    return " ".join(words[int(i) - n_special] for i in ids)


def watermarked_ids(key: WatermarkKey, n: int, vocab_size: int, rng: np.random.Generator, *,
                    low: int = len(SPECIAL), start: list[int] | None = None, green_prob: float = 1.0) -> list[int]:
    """Simulate watermarked generation: each next token is a random green token (with probability
    ``green_prob``, else any token) for the current context."""
    h = key.context_width
    ids = list(start) if start else [int(x) for x in rng.integers(low, vocab_size, size=h)]
    while len(ids) < n:
        if rng.random() < green_prob:
            mask = green_mask_np(np.asarray([ids[-h:]]), vocab_size, key.seeding, key.gamma, key.words)[0]
            mask[:low] = False
            choices = np.flatnonzero(mask)
            ids.append(int(rng.choice(choices)))
        else:
            ids.append(int(rng.integers(low, vocab_size)))
    return ids[:n]


def random_ids(n: int, vocab_size: int, rng: np.random.Generator, low: int = len(SPECIAL)) -> list[int]:
    return [int(x) for x in rng.integers(low, vocab_size, size=n)]
