"""Helpers for the web tests that need a real server: a free port and a ``railtrack serve`` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``railtrack serve`` in a child process on a free loopback port; stopped by :meth:`stop`."""

    def __init__(self, db: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "railtrack", "serve", "--db", str(db), "--port", str(self.port),
             "--log-level", "warning", *extra],
            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise RuntimeError(f"railtrack serve exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/api/catalog", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("railtrack serve did not answer within 60 s")
            time.sleep(0.2)

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.communicate()


# --------------------------------------------------------------------------- watermark helpers
WORDS = (
    "the model license use data people risk safety review output system research public open train weight "
    "release share agree term right notice policy user access code source text image audio video evaluate test "
    "report evidence audit family base derive fine tune adapter merge quantize card hub version clause domain "
    "health legal privacy military weapon malware child bias fair harm law court claim party grant permit "
    "restrict forbid require include provide attach copy modify distribute commercial research academic "
    "benchmark metric score accuracy robust secure private local cloud server client request response error"
).split()


def make_word_tokenizer(folder: Path) -> Path:
    """A small word-level fast tokenizer saved as a transformers folder (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["<unk>", "</s>", *dict.fromkeys(WORDS)])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="</s>")
    fast.save_pretrained(folder)
    return folder


def make_key(path: Path) -> Path:
    from railtrack.watermark.keys import WatermarkKey

    WatermarkKey.generate(gamma=0.25, delta=2.0).save(path)
    return path


def watermarked_text(key_file: Path, tokenizer_dir: Path, n: int = 120, seed: int = 0) -> str:
    """Words chosen so that every scored token is green under the key (what a strongly
    watermarked generation looks like), decoded through the tokenizer's own vocabulary."""
    import numpy as np
    from transformers import AutoTokenizer

    from railtrack.watermark.detect import token_flags
    from railtrack.watermark.keys import WatermarkKey

    key = WatermarkKey.load(key_file)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = tok("the model", add_special_tokens=False)["input_ids"]
    rng = np.random.default_rng(seed)
    candidates = np.array([tok.convert_tokens_to_ids(w) for w in dict.fromkeys(WORDS)])
    while len(ids) < n:
        for cand in rng.permutation(candidates):
            if token_flags(np.array(ids + [int(cand)]), key, ignore_repeated_ngrams=False)[-1] == 1:
                ids.append(int(cand))
                break
    return tok.decode(ids)


def human_text(n: int = 120, seed: int = 1) -> str:
    import numpy as np

    rng = np.random.default_rng(seed)
    return " ".join(rng.choice(WORDS, size=n))
