"""The CLI's shared output helpers: what a trainer says about the input lines it skipped."""

from __future__ import annotations

from provenance.cli.output import print_skipped


def test_print_skipped_names_the_first_five_then_counts_the_rest(capsys) -> None:
    print_skipped([f"part{i}.jsonl: line {i}: not valid JSON" for i in range(7)])
    err = capsys.readouterr().err
    assert [f"part{i}.jsonl" in err for i in range(7)] == [True] * 5 + [False] * 2
    assert "skipped 2 more bad lines" in err


def test_print_skipped_prints_brackets_in_a_description_as_text(capsys) -> None:
    # Rich would read "[/]" or "[bold]" in a file name as markup: dropped, or an error instead of the report.
    print_skipped(["in[/]box/[bold]a.jsonl: line 3: not an object"])
    assert "in[/]box/[bold]a.jsonl: line 3: not an object" in capsys.readouterr().err
