"""The license text as a format-neutral document: a list of blocks every renderer walks.

The wording (template version 1.0) is written by the railtrack authors. Each flavor has its
own grant, distribution / pass-through terms, use-restriction and termination wording; the
other sections are shared. All renderers draw on the same blocks, so every format says the
same thing.

Stable, parseable landmarks (relied on by ``railtrack.identify.parse_generated``):

* the first block is the title ``{name} {OpenRAIL|RAIL|RESEARCH-ONLY RAIL}-{D}{A}{M}{S}``;
* a meta line ``Licensed Artifact(s): Model, Source code`` (labels from ``ARTIFACT_LABELS``);
* the heading ``Attachment A: Use restrictions``, then domain sub-headings and numbered
  items, each item's text exactly a catalogue clause text or a custom restriction;
* the footer ``railtrack license rt-xxxxxxxxxxxx, template 1.0, catalogue 1.0``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.clauses import load_catalog
from .manifest import (
    ARTIFACT_LABELS,
    LicenseSpec,
    license_id,
    spdx_id,
    title,
)

__all__ = ["Block", "ATTACHMENT_HEADING", "ATTACHMENT_LEAD", "build_document", "restriction_items", "footer_line"]

ATTACHMENT_HEADING = "Attachment A: Use restrictions"
ATTACHMENT_LEAD = (
    "You shall not use the Licensed Artifacts or any Derivative, and shall not permit others to use them:"
)


@dataclass(frozen=True)
class Block:
    """One unit of the document.

    kinds: ``title``, ``meta`` (``label``: ``text``), ``lead`` (preamble paragraph),
    ``heading`` (numbered section), ``para``, ``item`` (lettered sub-item, ``label`` = "(a)"),
    ``subheading`` (domain group in Attachment A, ``label`` = domain id), ``clause``
    (numbered restriction, ``label`` = "1"), ``footer``.
    """

    kind: str
    text: str
    label: str = ""


_ARTIFACT_DEFS = {
    "data": "\u201cData\u201d means the data sets released under this License, including their "
            "annotations, documentation and any accompanying metadata.",
    "application": "\u201cApplication\u201d means the software application or hosted service released "
                   "under this License that gives access to the capabilities of a model, including its "
                   "interfaces and documentation.",
    "model": "\u201cModel\u201d means the machine-learning model released under this License, including its "
             "architecture, learned parameters (weights), configuration and model documentation.",
    "source": "\u201cSource code\u201d means the source code, scripts, configuration and documentation "
              "released under this License for building, training, running or evaluating a model.",
}

_FLAVOR_SUMMARY = {
    "open": "OpenRAIL: royalty-free; use, sharing and derivatives allowed; the use restrictions travel "
            "with every copy",
    "rail": "RAIL: use within the licensee's own organisation only; no distribution, no derivatives",
    "research": "RESEARCH-ONLY RAIL: research purposes only; the research limit and the use restrictions "
                "travel with every copy",
}

_PREAMBLE = {
    "open": (
        "This License lets anyone use, share and build on the Licensed Artifacts free of charge. "
        "In return it asks one thing that follows every copy: neither the Licensed Artifacts nor anything "
        "derived from them may be used for the purposes listed in Attachment A, and whoever passes them on "
        "must bind the next recipient to the same condition."
    ),
    "rail": (
        "This License lets You use the Licensed Artifacts inside Your own organisation. It does not let You "
        "share them with anyone else or build Derivatives of them, and it forbids the uses listed in "
        "Attachment A."
    ),
    "research": (
        "This License lets You use, share and modify the Licensed Artifacts for Research Purposes only. "
        "That limit and the uses forbidden in Attachment A bind everyone who receives the Licensed "
        "Artifacts or a Derivative, and whoever passes them on must bind the next recipient to both."
    ),
}


def footer_line(spec: LicenseSpec) -> str:
    """``railtrack license rt-xxxxxxxxxxxx, template 1.0, catalogue 1.0``."""
    return (
        f"railtrack license {license_id(spec)}, template {spec.template_version}, "
        f"catalogue {spec.catalog_version}"
    )


def restriction_items(spec: LicenseSpec) -> list[tuple[str, list[str]]]:
    """Attachment A grouped by domain: ``[(domain, [clause text, ...]), ...]``.

    Domains in catalogue order (new custom domains last, alphabetically); within a domain the
    catalogue clauses in catalogue order, then the custom restrictions in manifest order.
    """
    cat = load_catalog()
    groups: dict[str, list[str]] = {d: [] for d in spec.domains()}
    for rid in spec.restrictions:
        clause = cat.get(rid)
        groups[clause.domain].append(clause.text)
    for custom in spec.custom_restrictions:
        groups[custom.domain].append(custom.text)
    return [(d, texts) for d, texts in groups.items() if texts]


def _artifact_list(spec: LicenseSpec) -> str:
    return ", ".join(ARTIFACT_LABELS[a] for a in spec.artifacts)


def _artifact_phrase(spec: LicenseSpec) -> str:
    labels = [f"the {ARTIFACT_LABELS[a]}" for a in spec.artifacts]
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " and " + labels[-1]


def build_document(spec: LicenseSpec) -> list[Block]:
    """The whole license as blocks (deterministic for a given manifest)."""
    return list(_build(spec))


def _build(spec: LicenseSpec):  # noqa: C901 - one linear template
    f = spec.flavor
    cat = load_catalog()
    yield Block("title", title(spec))
    yield Block("meta", spec.licensor, "Licensor")
    yield Block("meta", _artifact_list(spec), "Licensed Artifact(s)")
    yield Block("meta", _FLAVOR_SUMMARY[f], "License type")
    yield Block("meta", "permitted" if spec.commercial_use else "not permitted", "Commercial use")
    if spec.url:
        yield Block("meta", spec.url, "Project URL")
    yield Block("meta", spdx_id(spec), "SPDX identifier")
    yield Block("lead", _PREAMBLE[f])

    # 1. Definitions --------------------------------------------------------------
    yield Block("heading", "1. Definitions")
    defs = [
        f"\u201cLicensor\u201d means {spec.licensor}, who grants this License.",
        "\u201cYou\u201d (and \u201cYour\u201d) means the individual or legal entity exercising rights "
        "under this License.",
        f"\u201cLicensed Artifacts\u201d means {_artifact_phrase(spec)} that the Licensor releases under "
        f"the name \u201c{spec.name}\u201d, as defined below, in any form and any version released under "
        "this License.",
    ]
    defs += [_ARTIFACT_DEFS[a] for a in spec.artifacts]
    defs += [
        "\u201cDerivative\u201d means any work based on or derived from the Licensed Artifacts, including "
        "modified versions, fine-tuned, adapted, quantized or merged models, models trained on the outputs "
        "or internal representations of the Licensed Artifacts, and works that incorporate the Licensed "
        "Artifacts in whole or in part.",
        "\u201cUse\u201d means any way of operating the Licensed Artifacts or a Derivative, such as running, "
        "fine-tuning, training, evaluating, serving or generating Output with them.",
        "\u201cOutput\u201d means content produced by operating the Licensed Artifacts or a Derivative, "
        "such as text, images, audio, code, scores or predictions.",
        "\u201cDistribute\u201d means to make a copy available to anyone other than You, by any means, "
        "including offering access to it as a hosted service.",
    ]
    if f == "research":
        if spec.commercial_use:
            defs.append(
                "\u201cResearch Purposes\u201d means scientific research, evaluation, testing and teaching, "
                "including such work carried out by commercial organisations, whose aim is knowledge rather "
                "than the provision of a product or service to others."
            )
        else:
            defs.append(
                "\u201cResearch Purposes\u201d means non-commercial scientific research, evaluation, "
                "testing and teaching whose aim is knowledge, and excludes any use in a product or service "
                "offered to others or carried out for commercial advantage."
            )
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i, text in enumerate(defs):
        yield Block("item", text, f"({letters[i]})")

    # 2. Grant ----------------------------------------------------------------------
    yield Block("heading", "2. Grant of rights")
    if f == "open":
        yield Block("para",
                    "Subject to the terms of this License, the Licensor grants You a worldwide, non-exclusive, "
                    "royalty-free license, under its copyright and under any patent claims it can license that "
                    "the Licensed Artifacts necessarily infringe, to Use, reproduce, modify, publicly display "
                    "and perform, and Distribute the Licensed Artifacts, and to create, Use and Distribute "
                    "Derivatives. The license lasts for as long as You comply with this License.")
    elif f == "rail":
        yield Block("para",
                    "Subject to the terms of this License, the Licensor grants You a worldwide, non-exclusive, "
                    "non-transferable, royalty-free license, under its copyright and under any patent claims it "
                    "can license that the Licensed Artifacts necessarily infringe, to Use and reproduce the "
                    "Licensed Artifacts solely within Your own organisation.")
        yield Block("para",
                    "This License gives You no right to Distribute the Licensed Artifacts, to sublicense them, "
                    "or to create Derivatives of them, other than the changes needed to install and run them on "
                    "systems under Your control.")
    else:
        yield Block("para",
                    "Subject to the terms of this License, the Licensor grants You a worldwide, non-exclusive, "
                    "royalty-free license, under its copyright and under any patent claims it can license that "
                    "the Licensed Artifacts necessarily infringe, to Use, reproduce and modify the Licensed "
                    "Artifacts, to create Derivatives, and to Distribute the Licensed Artifacts and Derivatives, "
                    "in every case only for Research Purposes.")
        yield Block("para",
                    "Any Use that is not for Research Purposes, including deployment in a product or service, "
                    "requires a separate license from the Licensor.")

    # 3. Distribution -----------------------------------------------------------------
    if f == "rail":
        yield Block("heading", "3. No distribution")
        yield Block("para",
                    "You shall not Distribute, sell, rent, lend or sublicense the Licensed Artifacts or any "
                    "Derivative, and shall not give third parties access to them, including through a hosted "
                    "service. Contractors working for You and under Your direction may Use the Licensed "
                    "Artifacts on Your behalf if You bind them to this License; You remain responsible for "
                    "their compliance.")
    else:
        heading = ("3. Distribution and conditions passed on" if f == "open"
                   else "3. Distribution for research and conditions passed on")
        yield Block("heading", heading)
        lead = ("You may Distribute the Licensed Artifacts and Derivatives, under this License or, for Your own "
                "modifications, under terms of Your choice, provided that:" if f == "open" else
                "You may Distribute the Licensed Artifacts and Derivatives only for Research Purposes, and only "
                "if:")
        yield Block("para", lead)
        passed = ("Section 4 and Attachment A" if f == "open"
                  else "the research-only limit of Section 2, Section 4 and Attachment A")
        items = [
            f"{passed} are included, as enforceable conditions, in every license or agreement under which "
            "You Distribute them, and every recipient is required to include them in turn when passing them on;",
            "every recipient receives a copy of this License;",
            "files You have modified carry a prominent statement that You changed them; and",
            "You keep every copyright, attribution and notice statement of the Licensor"
            + (", including the attribution notice in Section 13." if spec.notice else "."),
        ]
        for i, text in enumerate(items):
            yield Block("item", text, f"({letters[i]})")
        yield Block("para",
                    "Terms You choose for Your own modifications may add restrictions, but shall not remove or "
                    "weaken the use restrictions of Attachment A" + (" or the research-only limit." if f == "research"
                                                                     else "."))

    # 4. Use restrictions -------------------------------------------------------------
    yield Block("heading", "4. Use restrictions")
    yield Block("para",
                "You shall not Use the Licensed Artifacts or any Derivative for any purpose listed in Attachment "
                "A. Compliance with Attachment A is a condition of every right this License grants.")
    if f == "rail":
        yield Block("para",
                    "You shall ensure that everyone who Uses the Licensed Artifacts on Your behalf complies with "
                    "Attachment A.")
    else:
        yield Block("para",
                    "You shall require everyone to whom You make the Licensed Artifacts or a Derivative available, "
                    "including the users of any service You offer with them, to comply with Attachment A.")

    # 5. Commercial use ---------------------------------------------------------------
    yield Block("heading", "5. Commercial use")
    if spec.commercial_use:
        scope = " within Your own organisation" if f == "rail" else ""
        if f == "research":
            yield Block("para",
                        "Commercial organisations may Use the Licensed Artifacts for Research Purposes under this "
                        "License without payment to the Licensor. Commercial exploitation of the Licensed "
                        "Artifacts, a Derivative or their Output outside Research Purposes is not licensed.")
        else:
            what = "the Licensed Artifacts" if f == "rail" else "the Licensed Artifacts and Derivatives"
            yield Block("para",
                        f"You may Use {what}{scope} for commercial purposes, subject to this License, without "
                        "payment to the Licensor.")
    else:
        yield Block("para",
                    "You shall not Use the Licensed Artifacts, any Derivative or their Output for commercial "
                    "advantage or monetary compensation, including in a product or a paid service. Commercial "
                    "use requires a separate license from the Licensor.")

    # 6. Output -----------------------------------------------------------------------
    yield Block("heading", "6. Output")
    out = ("Except as this License states, the Licensor claims no rights in the Output You generate. You are "
           "responsible for the Output and for what is done with it, and no use of the Output may breach "
           "Attachment A.")
    if f == "research":
        out += " You may publish Output as part of the results of Your research."
    yield Block("para", out)

    # 7 .. 12 -------------------------------------------------------------------------
    yield Block("heading", "7. Updates and runtime restrictions")
    yield Block("para",
                "Where the law allows, the Licensor may restrict, remotely or otherwise, any Use of the Licensed "
                "Artifacts that breaches this License, and may publish updated versions of the Licensed "
                "Artifacts. You shall make reasonable efforts to Use the most recent version the Licensor "
                "makes available.")
    yield Block("heading", "8. Trademarks")
    yield Block("para",
                "This License grants no right to use the names, trademarks or logos of the Licensor, nor to "
                "suggest that the Licensor endorses You or any Derivative. The Licensor reserves every right "
                "this License does not expressly grant.")
    yield Block("heading", "9. Disclaimer of warranty")
    yield Block("para",
                "To the extent the law allows, the Licensor provides the Licensed Artifacts \u201cas is\u201d, "
                "without warranties or conditions of any kind, express or implied, including warranties of "
                "title, non-infringement, merchantability and fitness for a particular purpose. You alone decide "
                "whether Your Use" + ("" if f == "rail" else " or Distribution")
                + " of the Licensed Artifacts is appropriate, and You bear the risks of it.")
    yield Block("heading", "10. Limitation of liability")
    yield Block("para",
                "To the extent the law allows, the Licensor shall not be liable to You under any legal theory, "
                "whether contract, tort (including negligence) or otherwise, for any damages, whether direct, "
                "indirect, special, incidental or consequential, that arise from this License or from the Use "
                "of the Licensed Artifacts or the inability to Use them, even if the Licensor was told such "
                "damages were possible.")
    yield Block("heading", "11. Termination")
    breach = {"open": "Section 3 or Section 4",
              "rail": "Section 2, Section 3 or Section 4",
              "research": "Section 2, Section 3 or Section 4"}[f]
    term = (f"This License ends automatically, without notice, if You breach {breach}. You shall then stop "
            "every Use" + ("" if f == "rail" else " and Distribution")
            + " of the Licensed Artifacts and Derivatives and delete Your copies.")
    if f != "rail":
        term += (" People who received the Licensed Artifacts or a Derivative from You in compliance with this "
                 "License keep their rights for as long as they comply.")
    term += " Sections 6, 9 and 10 continue to apply after termination."
    yield Block("para", term)
    yield Block("heading", "12. General")
    yield Block("para",
                "If a court holds a provision of this License unenforceable, that provision shall be enforced to "
                "the greatest extent possible and the remainder of this License stays in effect.")
    if spec.jurisdiction:
        yield Block("para",
                    f"This License is governed by the laws of {spec.jurisdiction}, without regard to its "
                    "conflict-of-laws rules.")
    if spec.notice:
        yield Block("heading", "13. Attribution notice")
        keep = ("Every copy of the Licensed Artifacts shall keep the following notice:" if f == "rail" else
                "Whoever Distributes the Licensed Artifacts or a Derivative shall keep the following notice:")
        yield Block("para", keep)
        for para in spec.notice.split("\n\n"):
            yield Block("quote", para)
    if spec.info:
        yield Block("heading", "Additional information")
        for para in spec.info.split("\n\n"):
            yield Block("para", para)

    # Attachment A ---------------------------------------------------------------------
    yield Block("heading", ATTACHMENT_HEADING)
    yield Block("para", ATTACHMENT_LEAD)
    n = 0
    for domain, texts in restriction_items(spec):
        yield Block("subheading", cat.domain_title(domain), domain)
        for text in texts:
            n += 1
            yield Block("clause", text, str(n))
    yield Block("footer", footer_line(spec))

