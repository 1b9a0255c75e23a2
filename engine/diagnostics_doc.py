"""The catalogue of diagnostic codes, written from the ``CODES`` registry.

``docs/diagnostics.md`` is this module's output (``badges check --codes > docs/diagnostics.md``);
a test keeps the two in sync, so a new code cannot ship undocumented.
"""
from __future__ import annotations

from .diagnostics import CODES

# First digit(s) of the number -> the family heading.
FAMILIES = (
    ("BD0", "Reading files"),
    ("BD1", "Document structure"),
    ("BD2", "Knowledge base: names, types and meaning"),
    ("BD3", "Facts files"),
    ("BD4", "Rule tests"),
    ("BD5", "Command line"),
    ("BD6", "Decision log"),
)

# What an author does about each code. Codes without advice still appear, with their meaning.
ADVICE = {
    "BD001": "Check the path and that the file is UTF-8 text.",
    "BD002": "Fix the YAML at the line shown: usually indentation, a missing colon or an unclosed quote.",
    "BD003": "Keep one of the two keys; YAML would silently keep only the last.",
    "BD004": "Write plain values; tags such as `!!python/object` are never needed.",
    "BD005": "Write the content, or delete the file.",
    "BD006": "Keep one document per file (remove the extra `---`).",
    "BD007": "Write keys as plain words.",
    "BD008": "Name a facts file (.yaml, .yml, .json) or a folder that holds them.",
    "BD009": "Repeat the value instead of using `&anchor` / `*alias`.",
    "BD101": "Follow the message: it names the key that is missing, unknown or of the wrong kind.",
    "BD102": "Give the node exactly one of `all`, `any`, `not`, `at_least` + `of`, `conclusion`, or "
             "`fact` + `op` + `value` (or `other_fact`).",
    "BD201": "Use a fact declared in the pack's `facts.yaml` (the message suggests the closest one), "
             "or declare it there.",
    "BD202": "Use the id of a derived conclusion of a pack for the same kind of entity.",
    "BD203": "Ids must be unique in the whole knowledge base: rename one of the two.",
    "BD204": "Use an operator that applies to the fact's type (see docs/rule-format.md).",
    "BD205": "Write the value in the fact's type: a number, `true`/`false`, a date, or a list for list "
             "operators.",
    "BD206": "Use one of the fact's `values` (from `facts.yaml`), or add the value there first.",
    "BD207": "Break the cycle: a derived conclusion cannot depend on itself, even through others.",
    "BD208": "Use a count from 1 to the number of conditions under `of`.",
    "BD209": "Cite a source listed in `sources.yaml`.",
    "BD210": "Move the shared logic into a derived conclusion and reference that from both badges.",
    "BD211": "Write a value inside the fact's range. Percentages are shares: 0.45, not 45.",
    "BD212": "Create the missing file or folder, or remove it from `kb.yaml`.",
    "BD213": "Name the file after the id inside it (`id: client-voice` lives in `client-voice.yaml`).",
    "BD214": "Compare a fact only with another fact of the same type.",
    "BD215": "Declare each fact once, with `values` for enums and `range` for numbers only.",
    "BD216": "Give each level its own outcome, different from `otherwise` and from `undetermined`.",
    "BD217": "A reference to a graded conclusion names `outcomes: [...]`; other references do not.",
    "BD218": "The rules of one kind of entity read more facts (or have more rules at one stage) than "
             "durable_rules can hold: drop facts no rule needs, or share conditions through derived conclusions.",
    "BD220": "The message names the conditions that contradict each other: loosen one, or put them under "
             "an `any`.",
    "BD221": "The condition is true for every value the fact can take, so it only tests that the fact "
             "is given: tighten it or remove it.",
    "BD222": "The rule's condition can never hold (the message says which part): fix that part. For a "
             "level, an earlier level catches every case it would.",
    "BD230": "Both facts must be in the same unit to be compared: convert one, or fix the `unit`.",
    "BD231": "The fact is in percent (45 means 45%): write the value in percent, or make the fact a "
             "`percentage` (a share from 0 to 1).",
    "BD251": "Add `cite:` with a source from `sources.yaml` and the section the rule rests on.",
    "BD252": "Reference the derived conclusion from a rule, or delete its file.",
    "BD253": "Use the fact in a condition, make it `type: text` if it is only evidence, or remove it.",
    "BD254": "Write a real sentence: every decision shows it to the reader.",
    "BD301": "Use a fact name from the fact schema (the message suggests the closest one).",
    "BD302": "Write the value in the fact's type (for example `0.62` for a percentage, `true` for a "
             "boolean).",
    "BD303": "Write a value inside the fact's range; percentages are shares from 0 to 1.",
    "BD304": "Use one of the fact's allowed values.",
    "BD305": "Write a real date as YYYY-MM-DD.",
    "BD306": "Set `kind:` to an entity kind a pack evaluates (for example `partner`).",
    "BD307": "Give each entity its own id.",
    "BD310": "Name columns after facts (`share_women`) and their evidence (`share_women.source`, `.as_of`, "
             "`.reference`, `.note`); `kind`, `id` and `name` columns are required.",
    "BD311": "Give every row as many cells as the header has columns (leave a cell empty for an unknown fact).",
    "BD401": "Use a conclusion id, and node ids, that exist in the knowledge base.",
    "BD402": "Expect one of the conclusion's outcomes (the message lists them).",
    "BD504": "Choose an output folder that can be created and written (`badges schema --out DIR`).",
    "BD601": "Check the log's path and permissions.",
    "BD602": "The line is not a decision record: the log was edited by hand or mixed with another file.",
    "BD603": "The record's content no longer matches its hash: it was changed after it was written.",
    "BD604": "A record the chain expects is missing: it was deleted.",
    "BD605": "Records are out of order: the log was rearranged.",
    "BD606": "The last append was interrupted and left an incomplete line at the end of the log.",
    "BD701": "Give the Kiva API response (an object with `partners`) or a list of partner records.",
    "BD702": "Every record needs its Kiva `id` (a whole number), unique in the file.",
    "BD703": "Fix the field named in the message (Kiva's format for it is given).",
    "BD704": "The field is not part of Kiva's partner record and is ignored; remove it or check its spelling.",
    "BD705": "Choose an output folder that can be created and written.",
    "BD502": "Check the revision (`git log -- KB_DIR`) and that the folder is inside a git repository.",
    "BD503": "Write the report into a folder that exists and that you may write to (`--out`).",
}


def _family(code: str) -> str:
    for prefix, title in FAMILIES:
        if code.startswith(prefix):
            return title
    return "Other"


def catalogue_markdown() -> str:
    """Markdown: how to read a diagnostic, then every code by family, with severity and advice."""
    lines = [
        "# Diagnostic codes",
        "",
        "<!-- Generated from engine/diagnostics.py CODES: do not edit by hand. "
        "Regenerate with: badges check --codes > docs/diagnostics.md -->",
        "",
        "Every problem badges finds in a rule file, a facts file, a rule test or a command line is reported",
        "the same way, one per line, all at once, sorted by file and line:",
        "",
        "```text",
        "knowledge_base/kiva-badges/badges/client-voice.yaml:24:7: BD201 unknown fact 'feedback_reportd' "
        "(did you mean 'feedback_reported_to_management'?)",
        "```",
        "",
        "Read it as *file : line : column : code, then what is wrong and what to do*. Errors stop the",
        "knowledge base (or the facts file) from being used: the command exits with status 1 and evaluates",
        "nothing. Warnings do not, unless `badges check --strict` is asked for (release checks should).",
        "`badges check --format json` gives the same list as data (`path`, `line`, `col`, `code`, `severity`,",
        "`message`, `suggestion`, `subject`).",
        "",
    ]
    for family in [title for _, title in FAMILIES] + ["Other"]:
        members = [code for code in sorted(CODES) if _family(code) == family]
        if not members:
            continue
        lines += [f"## {family}", "", "| code | severity | meaning | what to do |", "|---|---|---|---|"]
        for code in members:
            severity, meaning = CODES[code]
            lines.append(f"| {code} | {severity.value} | {meaning} | {ADVICE.get(code, '')} |")
        lines.append("")
    return "\n".join(lines)
