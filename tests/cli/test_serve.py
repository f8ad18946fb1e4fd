"""`her2kit serve`, `users add`, `audit verify`: bad input is one line, exit 2; an unreachable
database exit 3."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")


def _run(argv, capsys):
    from her2kit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("argv,code,words", [
    (["serve", "--database-url", "mysql://x@localhost/db"], 2,
     "--database-url: unsupported database mysql"),
    (["serve", "--port", "70000"], 2, "--port: expected a TCP port 1-65535"),
    (["serve", "--http-workers", "0"], 2, "--http-workers: expected >= 1"),
    (["audit", "verify"], 2, "no her2kit database in"),
])
def test_bad_input_is_one_line(tmp_path, capsys, monkeypatch, argv, code, words):
    monkeypatch.chdir(tmp_path)
    rc, out, err = _run(argv, capsys)
    assert rc == code and out == ""
    assert err.count("\n") == 1 and words in err


def test_database_that_cannot_be_reached_is_exit_3(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"postgresql+psycopg://her2kit@127.0.0.1:{_free_port()}/nothing"
    rc, out, err = _run(["serve", "--database-url", url], capsys)
    assert rc == 3 and out == ""
    assert err.startswith("her2kit: error: cannot reach the database:") and err.count("\n") == 1
