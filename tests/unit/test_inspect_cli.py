"""`tollgate inspect`'s options: what does not go together is refused before AWS is asked anything."""

from __future__ import annotations

import pytest

from tollgate.cli import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give an EXECUTION_ARN, or --stack and --deployment-id"),
        (["--stack", "shop"], "give an EXECUTION_ARN, or --stack and --deployment-id"),
        (["arn:aws:states:x", "--stack", "shop"], "give an EXECUTION_ARN, or --stack and --deployment-id, not both"),
        (
            ["arn:aws:states:x", "--lifecycle-event", "AfterAllowTraffic"],
            "--lifecycle-event applies to --deployment-id",
        ),
        (["--stack", "shop", "--deployment-id", "d-1", "--scan", "0"], "--scan: at least 1 execution, not 0"),
    ],
)
def test_options_that_do_not_go_together_exit_2_before_anything_is_asked(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    code = main(["inspect", *arguments, "--endpoint-url", "http://127.0.0.1:9"])

    assert code == 2
    assert capsys.readouterr().err.strip() == message
