"""The shipped models: the networks in ``pretrained/`` (installed as ``binn.pretrained``),
trained on the FEM-driven synthetic cine alone, found, checked and exported.

``pretrained/card.json`` is the machine-readable model card: per model (``binn``, ``l2``,
``vae``) its file and SHA-256, and the facts of its making (generator settings, grid, steps,
seed, commit, validation and test numbers with n, and :data:`CHECK_PHANTOM`'s end-point
error). ``pretrained/MODEL_CARD.md`` is the same card for people. Every file is float16
safetensors (:mod:`binn.weights`); the ``binn`` network records ``vae.safetensors`` beside
it with its SHA-256, which test-time refinement and R_VAE use.

A network method asked for without a model (``binn track --method binn``, ``binn strain``,
``binn evaluate-pair``) gets the shipped one (:func:`model_or_shipped`); a missing file or one
that fails its checksum is an error naming the file and :data:`REGENERATE`. Light to import
(the workflow reads its file names): torch loads inside the functions that need it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from binn.errors import BinnInputError
from binn.io import file_sha256, write_text
from binn.vocabulary import MYOCARDIUM, format_setting, get_method

log = logging.getLogger(__name__)

PACKAGE = "binn.pretrained"
CARD = "card.json"
CARD_TEXT = "MODEL_CARD.md"
REGENERATE = "snakemake --cores all pretrained --configfile config/pretrained.yaml"
"""The workflow target that trains and exports the shipped models."""
VAE_FILE = "vae.safetensors"
SHIPPED_TEST_TIME = {"adapt": 50}
"""Test-time options the shipped networks run with when no ``adapt`` or ``refine*``
parameter is given (``--param adapt=0``: the raw network): fine-tuned 50 steps on each cine
before tracking it (:mod:`register.adapt`). Chosen on the 6 real ACDC validation subjects of
the dev folder's split (``docs/shipped.md``) as the fewest steps within 0.005 of the best
ES -> ED Dice: 0.836 / 0.845 / 0.848 / 0.850 at 20 / 50 / 200 / 400 steps (raw 0.711,
refine=50 0.812); the synthetic-trained network alone under-tracks real motion, and from
random weights 50 steps reach only 0.810."""
CHECK_PHANTOM = {"seed": 7, "family": "A", "frames": 20, "slices": 3}
"""The phantom (``binn phantom`` arguments) whose ES -> ED end-point error the card records
and the tests reproduce."""


def shipped_folder() -> Path:
    """The folder of the shipped models (``pretrained/`` of the checkout or the install)."""
    return Path(str(resources.files(PACKAGE)))


def read_card(folder: Path | None = None) -> dict[str, Any]:
    """The model card (``card.json``) of ``folder`` (default: the shipped one)."""
    path = (folder or shipped_folder()) / CARD
    if not path.is_file():
        raise BinnInputError(path, f"the model card is missing; regenerate it: {REGENERATE}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BinnInputError(path, f"the model card is not JSON ({exc})") from exc


def shipped_model(method: str, folder: Path | None = None) -> Path:
    """The shipped model file of ``method`` (``binn``, ``l2`` or ``vae``), checked against
    the card's SHA-256. A method without a shipped model, a missing file or a checksum
    mismatch raises :class:`BinnInputError` naming the file and how to regenerate it."""
    folder = folder or shipped_folder()
    card = read_card(folder)
    entry = card.get("models", {}).get(method)
    if entry is None:
        raise BinnInputError(
            folder / CARD, f"no shipped model for {method!r} (has: {sorted(card['models'])})"
        )
    path = folder / entry["file"]
    if not path.is_file():
        raise BinnInputError(
            path, f"the shipped {method} model is missing; regenerate: {REGENERATE}"
        )
    if file_sha256(path) != entry["sha256"]:
        raise BinnInputError(
            path,
            f"the shipped {method} model fails its checksum (SHA-256 differs from {CARD}): "
            f"the file is damaged or was replaced; restore it from git or regenerate: {REGENERATE}",
        )
    return path


def model_or_shipped(method: str, model: str | Path | None) -> Path | None:
    """``model`` as given; for a network method without one, the shipped model (logged);
    None for a classical method without one."""
    if model is not None:
        return Path(model)
    if not get_method(method).is_network:
        return None
    path = shipped_model(method)
    log.info(
        "%s: no --model given: using the shipped model %s (trained on synthetic cine only; "
        "card %s); its default test-time setting is %s (--param adapt=N or refine=N "
        "replaces it)",
        method,
        path,
        path.parent / CARD_TEXT,
        format_setting(SHIPPED_TEST_TIME),
    )
    return path


def _export_network(data: dict[str, Any], out: Path, extra: dict[str, Any]) -> None:
    """Write the checkpoint dict ``data`` as float16 safetensors ``out`` with ``extra`` meta
    (its own VAE record replaced by ``extra``'s)."""
    from binn.register.checkpoint import VAE_DIGEST_KEY, VAE_KEY
    from binn.weights import save_safetensors

    meta = {k: v for k, v in data.items() if k not in ("state_dict", VAE_KEY, VAE_DIGEST_KEY)}
    meta.update(extra)
    save_safetensors(out, data["state_dict"], meta)


def phantom_epe_mm(model: Path, subject: Any) -> dict[str, float]:
    """ES -> ED end-point error (mm, mean over the ED myocardium of every slice) of the
    network ``model`` on ``subject`` (with ground-truth ``motion``), and of no registration."""
    from binn.register.track import Registrar
    from binn.weights import read_checkpoint_dict

    spacing = float(subject.spacing[1])
    method = str(read_checkpoint_dict(model)["method"])
    registrar = Registrar(method, model=model, device="cpu", spacing_mm=spacing)
    es = subject.es_index
    fields = registrar(subject.images[0], subject.images[es])
    truth = subject.motion[es]
    myo = subject.labels_ed == MYOCARDIUM
    error = np.linalg.norm(fields - truth, axis=1)[myo].mean() * spacing
    still = np.linalg.norm(truth, axis=1)[myo].mean() * spacing
    return {"epe_mm": float(error), "no_registration_epe_mm": float(still)}


@dataclasses.dataclass(frozen=True)
class ExportRequest:
    """What ``binn export-pretrained`` makes: each network method's checkpoint of
    ``networks`` (``.pt``; the one whose method needs the prior records its VAE) written to
    ``out_dir`` as float16 safetensors ``METHOD.safetensors`` (the VAE as
    :data:`VAE_FILE`) with the card ``facts`` (JSON-able: generator, grid, training,
    validation, test, commit)."""

    networks: dict[str, Path]
    out_dir: Path
    facts: dict[str, Any]


def export_pretrained(request: ExportRequest) -> dict[str, Any]:
    """Write the shipped models, ``card.json`` and ``MODEL_CARD.md``; return the card."""
    from binn.register.checkpoint import VAE_DIGEST_KEY, VAE_KEY, recorded_vae
    from binn.register.data.phantom import make_phantom
    from binn.weights import read_checkpoint_dict, save_safetensors

    out = request.out_dir
    out.mkdir(parents=True, exist_ok=True)
    networks = {m: read_checkpoint_dict(p) for m, p in request.networks.items()}
    files = {m: f"{m}.safetensors" for m in networks}
    extra: dict[str, dict[str, Any]] = {m: {} for m in networks}
    for method, data in networks.items():
        if not get_method(method).needs_vae:
            continue
        model = request.networks[method]
        vae_source = recorded_vae(data, model)
        if vae_source is None:
            raise BinnInputError(model, f"the {method} network records no VAE to ship")
        vae = read_checkpoint_dict(vae_source)
        save_safetensors(out / VAE_FILE, vae.pop("state_dict"), vae)
        files["vae"] = VAE_FILE
        extra[method] = {VAE_KEY: VAE_FILE, VAE_DIGEST_KEY: file_sha256(out / VAE_FILE)}
    for method, data in networks.items():
        _export_network(data, out / files[method], extra[method])
    phantom = make_phantom(**CHECK_PHANTOM)
    check = {m: phantom_epe_mm(out / files[m], phantom) for m in networks}
    models = {}
    for name, file in files.items():
        models[name] = {"file": file, "sha256": file_sha256(out / file)}
        models[name]["bytes"] = (out / file).stat().st_size
        if name in networks:
            models[name]["setting"] = str(networks[name].get("setting"))
    card = {**request.facts, "models": models}
    card["check"] = {"phantom": CHECK_PHANTOM, "es_to_ed": check}
    write_text(out / CARD, json.dumps(card, indent=2) + "\n")
    write_text(out / CARD_TEXT, card_markdown(card))
    return card


def card_markdown(card: dict[str, Any]) -> str:
    """The model card for people, from ``card.json``."""
    lines = ["# binn shipped models: model card", ""]
    lines.append(
        "Registration networks trained on FEM-driven synthetic cine alone (no real image "
        "or label), exported by `" + REGENERATE + "`."
    )
    lines.append("")
    lines.append(
        "Used by `binn strain` (default method `binn`) and by `track`, `track-evaluate` and "
        "`evaluate-pair` with `--method binn|l2` and no `--model`, fine-tuned "
        f"{SHIPPED_TEST_TIME['adapt']} steps on each cine under the network's own objective "
        "before tracking it unless `--param adapt=N` or `refine=N` is given (`adapt=0`: the "
        "raw network). Every number below comes "
        "from the run that made them (synthetic and phantom data); their evaluation on real "
        "cine is in `docs/shipped.md`. `check` is the raw networks' ES -> ED end-point error "
        "on one phantom, which the tests reproduce."
    )
    lines.append("")
    lines.append("| model | file | setting | bytes | SHA-256 |")
    lines.append("|---|---|---|---|---|")
    for name, entry in card["models"].items():
        lines.append(
            f"| {name} | `{entry['file']}` | {entry.get('setting', '—')} | {entry['bytes']} "
            f"| `{entry['sha256'][:16]}…` |"
        )
    lines.append("")
    for key, value in card.items():
        if key == "models":
            continue
        lines.append(f"## {key}")
        lines.append("")
        lines.append("```json")
        lines.append(json.dumps(value, indent=2))
        lines.append("```")
        lines.append("")
    return "\n".join(lines)
