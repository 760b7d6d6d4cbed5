"""The serve flags of the CLI: which ``ServeConfig`` field each sets (the defaults live in the dataclass
alone), and a config error said in the words of the command line."""

from __future__ import annotations

import argparse
from typing import Any

MiB = 1 << 20
SERVE_FLAGS = {  # flag -> (ServeConfig field, metavar, unit: the flag's value times unit is the field's)
    "--host": ("host", None, 1), "--port": ("port", None, 1), "--workers": ("workers", None, 1),
    "--token": ("token", None, 1), "--log-dir": ("log_dir", "DIR", 1), "--no-request-log": ("request_log", None, 1),
    "--cache-ttl": ("cache_ttl", "S", 1), "--cache-size": ("cache_size", "N", 1),
    "--cache-mb": ("cache_bytes", "MB", MiB), "--max-body-mb": ("max_body_bytes", "MB", MiB),
    "--max-rows": ("max_rows", None, 1), "--max-images": ("max_images", None, 1), "--max-k": ("max_k", None, 1),
    "--redis-timeout": ("redis_timeout", "S", 1), "--graceful-timeout": ("graceful_timeout", "S", 1),
    "--no-replay": ("replay", None, 1), "--max-users": ("max_users", "N", 1),
    "--header-timeout": ("header_timeout", "S", 1), "--keep-formulas": ("neutralize_formulas", None, 1),
    "--registry": ("registry", "DIR", 1), "--follow-interval": ("follow_interval", "S", 1),
    "--split-key": ("split_key", "COLUMN", 1), "--split-salt": ("split_salt", "SALT", 1),
    "--shadow-queue": ("shadow_queue", "N", 1),
}
"""The serve flags: each sets one field of ``ServeConfig``, whose default and help it shows (a flag that is
not given is not passed on: the default lives in the dataclass alone); ``--no-X`` turns a true field off."""
CHALLENGER_FLAGS = {  # flag -> (ServeConfig field, metavar): repeatable, one per served name, parsed by serve_config
    "--shadow": ("shadow", "NAME@ALIAS"), "--canary": ("canary", "NAME@ALIAS=PERCENT"),
}
SERVE_NOTES = {"--token": "or set WORKBENCH_SERVE_TOKEN", "--registry": "or set WORKBENCH_REGISTRY"}
SERVE_ENV = {"redis_url": "REDIS_URL", "cache_key": "WORKBENCH_SERVE_CACHE_KEY"}  # fields set from the environment only


def serve_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ServeConfig fields the serve flags given set (units converted here: MB -> bytes)."""
    out = {}
    for name, _, unit in SERVE_FLAGS.values():
        if hasattr(args, name):
            value = getattr(args, name)
            out[name] = value if unit == 1 else round(value * unit)
    for name, _ in CHALLENGER_FLAGS.values():
        if hasattr(args, name):
            out[name] = getattr(args, name)
    if getattr(args, "rollout", None):
        from ..serve._config import ServeError, read_rollout

        from_file = read_rollout(args.rollout)
        both = [k for k in from_file if k in out]
        if both:
            flags = {name: flag for flag, (name, *_) in {**SERVE_FLAGS, **CHALLENGER_FLAGS}.items()}
            raise ServeError(f"--rollout {args.rollout} sets {', '.join(both)}, and so do "
                             f"{', '.join(flags[k] for k in both)}: give each in one place", "rollout")
        out.update(from_file)
    return out


def flag_message(error: Exception, args: argparse.Namespace) -> str:
    """A ServeConfig error in the words of the command line: the field it names said as the flag that set it."""
    import re

    field = getattr(error, "field", None)
    if field in SERVE_ENV:
        return re.sub(rf"\b{field}\b", SERVE_ENV[field], str(error))
    flags = {name: (flag, unit) for flag, (name, _, unit) in SERVE_FLAGS.items()}
    flags.update({name: (flag, 1) for flag, (name, _) in CHALLENGER_FLAGS.items()})
    if field not in flags or not hasattr(args, field):
        return str(error)
    flag, unit = flags[field]
    if unit == 1:
        return re.sub(rf"\b{field}\b", flag, str(error))
    return f"{flag} {getattr(args, field):g}: {error}"
