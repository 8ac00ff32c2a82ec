"""An obligation rule added by a plugin installed as a real distribution (entry point group `railtrack`)."""

from __future__ import annotations

import textwrap

import pytest
from adherence_store import make_store

from railtrack.adherence import licenses, rules
from railtrack.adherence.audit import audit
from railtrack.plugins import reset_plugin_manager

PLUGIN = '''
from railtrack.plugins import hookimpl
from railtrack.adherence.rules import RuleResult


class ModelNameRule:
    """Derivatives of an Acme model keep "acme" in their name."""

    id = "acme/keep-name"
    family = "acme"
    title = "The derivative's name keeps 'acme'"
    evidence = ("model_name",)

    def applies(self, base, relation):
        return base.id == "apache-2.0"

    def evaluate(self, ctx):
        ok = "acme" in ctx.model.name.lower()
        return RuleResult(self.id, "compliant" if ok else "violation",
                          "name keeps acme" if ok else f"{ctx.model.name} drops the acme name",
                          [{"source": "model_name", "value": ctx.model.name}], ctx.base_id, ctx.base.id, self.title)


@hookimpl
def railtrack_obligation_rules():
    return [
        ModelNameRule(),
        {"family": "acme-files", "title": "Acme: a copy of the Apache license travels",
         "applies_to": {"licenses": ["apache-2.0"]},
         "carries": {"licenses": ["apache-2.0"]},
         "rules": [{"id": "acme/copy-of-license", "check": "copy_of_license", "title": "LICENSE kept",
                    "evidence": ["files"]}]},
    ]
'''


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "rt_acme_plugin").mkdir(parents=True)
    (site / "rt_acme_plugin" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    dist = site / "rt_acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rt-acme-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""
        [railtrack]
        acme = rt_acme_plugin
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()
    rules.reset_rules()
    licenses.reset_cache()
    yield
    monkeypatch.undo()
    reset_plugin_manager()
    rules.reset_rules()
    licenses.reset_cache()


def test_plugin_rules_are_loaded_and_applied(installed_plugin):
    ids = [r["rule"] for r in rules.describe_rules()]
    assert "acme/keep-name" in ids and "acme/copy-of-license" in ids
    con = make_store([
        {"id": "acme/base", "licenses": ["apache-2.0"]},
        {"id": "u/acme-chat", "licenses": ["apache-2.0"], "files": ["LICENSE", "README.md"], "card": "fine-tuned"},
        {"id": "u/renamed", "licenses": ["mit"], "files": ["README.md"], "card": "fine-tuned"},
    ], [("u/acme-chat", "acme/base", "finetune"), ("u/renamed", "acme/base", "finetune")])
    rep = audit(con, "acme/base", descendants=True)
    by = {d["id"]: {r["rule"]: r for r in d["rules"]} for d in rep["derivatives"]}
    assert by["u/acme-chat"]["acme/keep-name"]["verdict"] == "compliant"
    assert by["u/acme-chat"]["acme/copy-of-license"]["verdict"] == "compliant"
    assert by["u/renamed"]["acme/keep-name"]["verdict"] == "violation"
    assert by["u/renamed"]["acme/copy-of-license"]["verdict"] == "violation"
    assert rep["summary"]["rules"]["acme/keep-name"] == {"compliant": 1, "cannot-tell": 0, "violation": 1}


def test_without_the_plugin_apache_has_no_obligations():
    reset_plugin_manager()
    rules.reset_rules()
    assert not any(r["rule"].startswith("acme/") for r in rules.describe_rules())
    con = make_store([{"id": "acme/base", "licenses": ["apache-2.0"]},
                      {"id": "u/renamed", "licenses": ["mit"], "files": ["README.md"], "card": "x"}],
                     [("u/renamed", "acme/base", "finetune")])
    assert audit(con, "u/renamed")["derivatives"][0]["rules"] == []


def test_bad_plugin_rule_file_is_an_input_error(tmp_path):
    from railtrack.errors import InputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("family: x\nrules:\n  - id: x/y\n    check: no-such-check\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown check"):
        rules.load_rule_file(bad)
