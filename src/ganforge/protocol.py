"""The protocol stamp of a score: how the number was computed, so that two numbers are only
compared when they were computed the same way.

A stamp names the extractor (and the SHA-256 of its weights), the resolution and resize
filter its input went through, the colour range it read, the precision it ran in, how many
real and generated samples there were, which real examples formed the reference (dataset,
its fingerprint, split and choice), and how the samples were drawn (EMA or raw generator,
truncation). The evaluator writes the extractor's part once (`extractor_protocol`); each
metrics record stamps every generator's scores (`stamps`); comparison and report warn where
the stamps of the numbers in one table differ (`differences`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EXTRACTOR_FIELDS = ("extractor", "weights_sha256", "resolution", "resize", "colour_range", "precision")
STAMP_FIELDS = (*EXTRACTOR_FIELDS, "real_samples", "generated_samples", "reference", "sampling")
NO_WEIGHTS = "random/unavailable"


def extractor_protocol(
    extractor: str,
    weights_sha256: str | None,
    resolution: int | str,
    resize: str,
    colour_range: str,
    precision: str,
) -> dict[str, Any]:
    """The extractor's part of a stamp (`weights_sha256` None: no weights file to name)."""
    return {
        "extractor": extractor,
        "weights_sha256": weights_sha256 or NO_WEIGHTS,
        "resolution": resolution,
        "resize": resize,
        "colour_range": colour_range,
        "precision": precision,
    }


def reference_protocol(meta: Mapping[str, Any], examples: int, choice: str) -> dict[str, Any]:
    """Which real examples a reference holds: the dataset, the SHA-256 of its prepared file,
    its split, how many and how they were chosen."""
    return {
        "dataset": meta.get("dataset"),
        "fingerprint": meta.get("data_sha256"),
        "split": meta.get("split") or "all",
        "examples": examples,
        "choice": choice,
    }


def stamps(
    extractors: Mapping[str, Any],
    reference: Mapping[str, Any] | None,
    scores: Mapping[str, Any],
    sampling: Mapping[str, Any],
) -> dict[str, dict[str, dict[str, Any]]]:
    """`{generator: {extractor key: stamp}}` for every generator of `scores` (the evaluator's
    `{"generators": ..., "real_samples": n, "generated_samples": n}`) and every available
    extractor that carries its protocol."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for generator in scores.get("generators", {}):
        rule = {"generator": generator, "truncation": _truncation(sampling)}
        if "mode" in sampling:
            rule["mode"] = sampling["mode"]
        if generator == "best" and sampling.get("best"):
            best = sampling["best"]
            rule["selected"] = (
                f"{best.get('copy')} copy at step {best.get('steps')}, best {best.get('metric')} on the "
                f"{best.get('on', 'validation sample')}"
            )
        out[generator] = {
            key: {
                **report["protocol"],
                "real_samples": scores.get("real_samples"),
                "generated_samples": scores.get("generated_samples"),
                "reference": dict(reference or {}),
                "sampling": rule,
            }
            for key, report in extractors.items()
            if isinstance(report, Mapping) and report.get("available") and "protocol" in report
        }
    return out


def _truncation(sampling: Mapping[str, Any]) -> str:
    keep = sampling.get("jacobian_keep", 1.0)
    return "none" if keep is None or keep >= 1.0 else f"jacobian, keep {keep:g}"


def differences(stamped: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One line per stamp field whose value differs between the labelled stamps (a label is a
    variant, or a variant's seed); empty when they all agree. A missing stamp is a difference
    of its own."""
    present = {label: s for label, s in stamped.items() if s}
    lines = []
    missing = sorted(label for label, s in stamped.items() if not s)
    if missing and present:
        lines.append(f"no protocol stamp: {', '.join(missing)}")
    for name in STAMP_FIELDS:
        values: dict[str, list[str]] = {}
        for label, stamp in present.items():
            values.setdefault(_show(stamp.get(name)), []).append(label)
        if len(values) > 1:
            parts = "; ".join(f"{value} ({', '.join(labels)})" for value, labels in sorted(values.items()))
            lines.append(f"{name} differs: {parts}")
    return lines


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_show(v)}" for k, v in value.items())
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value[:12]  # a SHA-256: its first 12 digits tell files apart
    return str(value)


def headline_stamp(
    record: Mapping[str, Any], generator: str, extractor: str | None = None
) -> dict[str, Any] | None:
    """The stamp of a metrics record's `generator` (raw where it has none) for `extractor`,
    or its first extractor's."""
    by_generator = record.get("protocol") or {}
    chosen = by_generator.get(generator) or by_generator.get("raw") or {}
    if extractor is not None:
        return chosen.get(extractor)
    return next(iter(chosen.values()), None)


def generator_stamps(record: Mapping[str, Any], generator: str) -> dict[str, Any]:
    """Every extractor's stamp of a metrics record's `generator` (raw where it has none)."""
    by_generator = record.get("protocol") or {}
    return dict(by_generator.get(generator) or by_generator.get("raw") or {})


def table_warnings(stamped: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The `differences` of the labelled stamp sets, extractor by extractor (`<extractor>: ...`)."""
    extractors = sorted({key for stamps_ in stamped.values() for key in stamps_})
    return [
        f"{key}: {line}"
        for key in extractors
        for line in differences({label: stamps_.get(key) for label, stamps_ in stamped.items()})
    ]


def describe(stamp: Mapping[str, Any]) -> str:
    """A stamp in one sentence, for a report's footnote."""
    reference = stamp.get("reference") or {}
    sampling = stamp.get("sampling") or {}
    fingerprint = str(reference.get("fingerprint") or "unknown")[:12]
    return (
        f"{stamp['extractor']} (weights {_show(stamp['weights_sha256'])}), input {stamp['resolution']} px, "
        f"resize {stamp['resize']}, colour {stamp['colour_range']}, {stamp['precision']}; "
        f"{_show(stamp.get('real_samples'))} real against {_show(stamp.get('generated_samples'))} generated; "
        f"reference {reference.get('dataset')} (sha256 {fingerprint}, split {reference.get('split')}, "
        f"{reference.get('choice')}); samples of the {sampling.get('generator')} generator, "
        f"truncation {sampling.get('truncation')}"
    )


def flat_tags(stamp: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """A stamp as MLflow tags (`<prefix>.<field>`, nested fields dotted)."""
    out: dict[str, str] = {}
    for key, value in stamp.items():
        if isinstance(value, Mapping):
            out.update(flat_tags(value, f"{prefix}.{key}"))
        else:
            out[f"{prefix}.{key}"] = str(value)
    return out


def seeds_agree(records: Sequence[Mapping[str, Any]], generator: str) -> list[str]:
    """Warnings where the seeds of one variant were scored under different protocols."""
    return table_warnings({f"seed {r.get('seed')}": generator_stamps(r, generator) for r in records})
