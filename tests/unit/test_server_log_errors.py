"""The helper that shows CI the servers' errors when an integration test fails."""

from tests.servers import server_log_errors

LOG = """[11/23/26 15:11:35] INFO     loaded ccrisk-fraud v1 (run
                             a0da9f09)
2026-11-23T15:11:39+0000 [ERROR] [entry_service:ccrisk:1] Exception on /v1/claims/score [POST]
Traceback (most recent call last):
  File "app.py", line 782, in api_endpoint
AttributeError: 'NoneType' object has no attribute 'claims_score'
2026-11-23T15:11:40+0000 [ERROR] [entry_service:ccrisk:1] Exception on /v1/claims/score [POST]
Traceback (most recent call last):
  File "app.py", line 782, in api_endpoint
AttributeError: 'NoneType' object has no attribute 'claims_score'
2026-11-23T15:11:41+0000 [ERROR] [entry_service:ccrisk:2] Exception on /v1/contact/analyze [POST]
pydantic_core._pydantic_core.ValidationError: 1 validation error for Input
2026-11-23T15:11:42+0000 [INFO] [entry_service:ccrisk:2] Service ccrisk initialized
2026-11-23T15:11:43+0000 [CRITICAL] [entry_service:ccrisk:1] worker 7: cannot open the audit trail
Traceback (most recent call last):
OSError: disk full
"""


def test_distinct_server_errors_with_their_tracebacks_and_no_client_errors():
    blocks = server_log_errors(LOG)
    assert len(blocks) == 2  # the repeated record once, the 4xx validation record left out
    assert blocks[0].startswith("2026-11-23T15:11:39") and blocks[0].endswith("attribute 'claims_score'")
    assert "[CRITICAL]" in blocks[1] and blocks[1].endswith("OSError: disk full")


def test_a_long_traceback_keeps_its_first_line_and_its_end():
    frames = "\n".join(f'  File "f{i}.py", line {i}' for i in range(40))
    log = f"2026-11-23T15:00:00+0000 [ERROR] [x] Exception on /v1/kb/search\n{frames}\nKeyError: 'kb'\n"
    (block,) = server_log_errors(log, lines=5)
    assert block.splitlines()[0].endswith("/v1/kb/search") and block.endswith("KeyError: 'kb'")
    assert len(block.splitlines()) == 7  # first line, "...", the last five
