"""Translation sets (paired and unpaired), scored on their held-out split in each direction:
L1, PSNR and SSIM against the true translations where the set knows them; the target
domain's classifier features (Fréchet distance, KID, precision/recall, against the real
held-out images of the target domain) and, where the source is labelled, label preservation
(the source label against that classifier's prediction on the translation); Inception's
features where its weights exist; and the cycle reconstruction error of two-way systems.
The identity (output = input, brought to the target's channels) is scored the same way, as
every table's floor."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganforge.core.images import to_channels
from ganforge.data.prepared import PreparedDataset, domain_labels, heldout_masks, true_translation
from ganforge.evaluation.base import Evaluator
from ganforge.evaluation.common import (
    Log,
    Settings,
    inception,
    inception_report,
    load_domain_extractor,
    train_domain_classifier,
)
from ganforge.metrics.features import Unavailable
from ganforge.metrics.frechet import feature_stats, frechet_from_stats
from ganforge.metrics.suite import Reference, feature_scores
from ganforge.metrics.translation import l1_per_image, pair_scores

DIRECTIONS = {"a2b": ("a", "b"), "b2a": ("b", "a")}


def _classifier_file(side: str) -> str:
    return f"classifier_{side}.pt"


class TranslationEvaluator(Evaluator):
    name = "translation"
    data_kinds = ("paired", "unpaired")

    def __init__(self, state: Mapping[str, Any], extractors: dict[str, Any], settings: Settings) -> None:
        self.state, self.extractors, self.settings = state, extractors, settings
        self.references = {
            d: {k: Reference.from_state(v) for k, v in block["references"].items()}
            for d, block in state["directions"].items()
        }

    @classmethod
    def build(
        cls,
        ds: PreparedDataset,
        settings: Settings,
        folder: Path,
        log: Log,
        borrowed: Mapping[str, Path] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        masks, labels = heldout_masks(ds), domain_labels(ds)
        classes = len(ds.class_names)
        extractors: dict[str, Any] = {}
        report_extractors: dict[str, Any] = {}
        for side in ("a", "b"):
            name = f"{ds.name}.{side}"
            train = ~masks[side]
            if labels[side] is not None and classes > 1:
                extractors[f"domain_{side}"], report_extractors[f"domain_{side}"] = train_domain_classifier(
                    name,
                    ds.tensors[side][train],
                    labels[side][train],  # type: ignore[index]
                    ds.class_names,
                    settings,
                    folder / _classifier_file(side),
                    log,
                )
            else:
                report_extractors[f"domain_{side}"] = {
                    "available": False,
                    "reason": f"domain {side} of {ds.name} has no class labels to train a classifier on",
                }
        net = inception(settings, settings.eval.inception_download)
        unavailable = {}
        if isinstance(net, Unavailable):
            unavailable["inception"] = net.reason
            report_extractors["inception"] = {"available": False, "reason": net.reason}
        else:
            extractors["inception"] = net
            report_extractors["inception"] = inception_report(net)
        directions: dict[str, Any] = {}
        for direction, (src, dst) in DIRECTIONS.items():
            idx = masks[src].nonzero().flatten()
            real_targets = ds.tensors[dst][masks[dst]]
            refs = {}
            for key in (f"domain_{dst}", "inception"):
                if key in extractors:
                    refs[key.split("_")[0]] = Reference.build(
                        key, extractors[key](real_targets), None, 0, settings.eval
                    ).to_state()
            directions[direction] = {
                "source": src,
                "target": dst,
                "indices": idx,
                "inputs": ds.tensors[src][idx],
                "targets": true_translation(ds, src, idx),
                "source_labels": labels[src][idx] if labels[src] is not None else None,  # type: ignore[index]
                "target_channels": int(ds.tensors[dst].shape[1]),
                "references": refs,
                "real_targets": len(real_targets),
            }
        state = {"directions": directions, "unavailable": unavailable, "class_names": ds.class_names}
        evaluator = cls(state, extractors, settings)
        identity = evaluator.identity_scores()
        state["identity"] = identity
        report = {
            "extractors": report_extractors,
            "unavailable": unavailable,
            "heldout": {d: len(b["indices"]) for d, b in directions.items()},
            "baselines": {"identity": identity},
            "reference_choice": "the target images of the held-out pairs, per direction",
        }
        return state, report

    @classmethod
    def load(cls, state: Mapping[str, Any], folder: Path, settings: Settings) -> TranslationEvaluator:
        extractors: dict[str, Any] = {}
        for side in ("a", "b"):
            domain = load_domain_extractor(
                folder / _classifier_file(side),
                f"{state['dataset']}.{side}",
                settings.device,
                settings.eval.extraction_precision,
            )
            if domain is not None:
                extractors[f"domain_{side}"] = domain
        if not state.get("unavailable", {}).get("inception"):
            net = inception(settings, False)
            if not isinstance(net, Unavailable):
                extractors["inception"] = net
        return cls(state, extractors, settings)

    def _direction_scores(
        self, direction: str, outputs: torch.Tensor, cycle: torch.Tensor | None, seed: int
    ) -> dict[str, Any]:
        block = self.state["directions"][direction]
        scores: dict[str, Any] = {}
        if block["targets"] is not None:
            scores.update(pair_scores(outputs, block["targets"]))
        for key, name in ((f"domain_{block['target']}", "domain"), ("inception", "inception")):
            if key not in self.extractors or name not in self.references[direction]:
                continue
            features = self.extractors[key](outputs)
            scores[name] = feature_scores(
                self.references[direction][name], features, self.settings.eval, seed
            )
            if name == "domain" and block["source_labels"] is not None and features.log_probs is not None:
                predicted = torch.from_numpy(features.log_probs.argmax(1))
                scores["label_preservation"] = float((predicted == block["source_labels"]).double().mean())
        for key, reason in self.state.get("unavailable", {}).items():
            scores[key] = {"available": False, "reason": reason}
        if cycle is not None:
            scores["cycle_l1"] = float(l1_per_image(cycle, block["inputs"]).mean())
        return scores

    def identity_scores(self) -> dict[str, Any]:
        """Every direction scored with its inputs as the outputs (the floor of every table)."""
        return {
            d: self._direction_scores(d, to_channels(b["inputs"], b["target_channels"]).contiguous(), None, 0)
            for d, b in self.state["directions"].items()
        }

    def baselines(self) -> dict[str, Any]:
        return {"identity": self.state["identity"]}

    def validation_scores(self, payload: Mapping[str, Any], seed: int) -> dict[str, float]:
        """The headline scores of each direction's translations of the run's validation
        examples (their true translations and labels come with them): L1 to the target,
        the target-domain classifier's Fréchet distance to the held-out real targets, and
        label preservation."""
        out: dict[str, float] = {}
        for direction, block in payload["directions"].items():
            outputs = block["outputs"]["ema"]
            if block.get("targets") is not None:
                out[f"{direction}.l1"] = float(l1_per_image(outputs, block["targets"]).mean())
            key = f"domain_{self.state['directions'][direction]['target']}"
            reference = self.references[direction].get("domain")
            if key not in self.extractors or reference is None:
                continue
            features = self.extractors[key](outputs)
            out[f"{direction}.domain.fd"] = frechet_from_stats(
                reference.stats, feature_stats(features.features)
            )
            if block.get("source_labels") is not None and features.log_probs is not None:
                predicted = torch.from_numpy(features.log_probs.argmax(1))
                out[f"{direction}.label_preservation"] = float(
                    (predicted == block["source_labels"]).double().mean()
                )
        return out

    def score(self, payload: Mapping[str, Any], seed: int) -> dict[str, Any]:
        generators: dict[str, dict[str, Any]] = {}
        counts = {}
        for direction, block in payload["directions"].items():
            counts[direction] = len(block["indices"])
            for which, outputs in block["outputs"].items():
                cycle = block.get("cycle", {}).get(which)
                generators.setdefault(which, {})[direction] = self._direction_scores(
                    direction, outputs, cycle, seed
                )
        return {
            "generators": generators,
            "real_samples": {
                d: b["real_targets"] for d, b in self.state["directions"].items() if d in counts
            },
            "generated_samples": counts,
        }
