"""``workbench jobs …``: the jobs service from the command line, through its REST API.

The token is ``--token``, else ``$WORKBENCH_TOKEN``, else the user's own token kept by ``workbench
login``, else, inside a lab, the lab's own token ``$JUPYTERHUB_API_TOKEN`` (the hub gives it access to
the jobs service as its user) — each of them a person's, so runs are credited to the person — else the
workbench-admin service token in ``<WORKBENCH_STATE_DIR>/secrets/admin_api_token``: for automation on the
hub's machine, what it does is credited to ``service:workbench-admin``, and the command says so.

The service is found at ``--url``, else the hub of the ``workbench login`` whose token is used, else
``$WORKBENCH_JOBS_URL`` (set in every lab by the hub), else ``<WORKBENCH_PUBLIC_URL's local
address>/services/jobs/api/v1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench.jobs.client import API_PATH, ClientError, JobsClient
from workbench.jobs.policies import EVENTS, FAILURE_KINDS, MISFIRE_POLICIES
from workbench.settings import JOB_EXECUTORS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "jobs",
        help="production jobs: papermill runs of notebooks (list, create, run, follow, cancel)",
        description="Talk to the jobs service of a running workbench (see docs/jobs.md).",
    )
    p.add_argument(
        "--url", help=f"API root (default: $WORKBENCH_JOBS_URL, else the hub's local URL + {API_PATH})"
    )
    p.add_argument(
        "--token",
        help="hub API token (default: $WORKBENCH_TOKEN, else your `workbench login`, else in a lab the lab's "
        "$JUPYTERHUB_API_TOKEN, else the admin service token file: automation only)",
    )
    p.add_argument("--json", action="store_true", help="print the API's JSON instead of text")
    sub = p.add_subparsers(dest="jobs_command", metavar="ACTION")

    s = sub.add_parser("list", help="jobs you may see, with their last run")
    s.set_defaults(handler=_guard(cmd_list))

    s = sub.add_parser("show", help="one job: notebook, parameters, schedule, declared parameters")
    s.add_argument("name")
    s.set_defaults(handler=_guard(cmd_show))

    s = sub.add_parser("create", help="create a job from a notebook of notebooks/ (operators)")
    s.add_argument("name", help="job name: lower-case letters, digits, hyphens")
    s.add_argument("--segment", required=True, choices=("swe", "debris", "neo"))
    s.add_argument("--notebook", required=True, help="path relative to notebooks/, e.g. jobs/x.ipynb")
    s.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help=_PARAM_HELP)
    s.add_argument("--schedule", help="5-field cron expression in UTC, e.g. '30 6 * * *'")
    s.add_argument("--timeout", type=int, help="run timeout [s] (default WORKBENCH_JOBS_TIMEOUT)")
    s.add_argument("--description", default="")
    _policy_options(s)
    s.set_defaults(handler=_guard(cmd_create))

    s = sub.add_parser("update", help="change a job's parameters, schedule, timeout or policies (operators)")
    s.add_argument("name")
    s.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help=_PARAM_HELP)
    s.add_argument("--schedule", help="5-field cron expression in UTC; '' removes the schedule")
    s.add_argument("--timeout", type=int, help="run timeout [s]")
    s.add_argument("--description")
    _policy_options(s)
    s.set_defaults(handler=_guard(cmd_update))

    s = sub.add_parser("delete", help="delete a job; its active runs are cancelled (operators)")
    s.add_argument("name")
    s.set_defaults(handler=_guard(cmd_delete))

    s = sub.add_parser("run", help="start a run of a job; --wait follows it and fails unless it succeeds")
    s.add_argument("name")
    s.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help=_PARAM_HELP)
    s.add_argument(
        "--wait", action="store_true", help="show progress until the run ends; exit 1 unless it succeeded"
    )
    s.add_argument("--poll", type=float, default=1.0, help="seconds between polls with --wait")
    s.set_defaults(handler=_guard(cmd_run))

    s = sub.add_parser("runs", help="recent runs of a job (or of every job you may see)")
    s.add_argument("name", nargs="?")
    s.add_argument("--limit", type=int, default=20)
    s.set_defaults(handler=_guard(cmd_runs))

    s = sub.add_parser("status", help="one run: status, progress, error, scraps")
    s.add_argument("run_id", type=int)
    s.set_defaults(handler=_guard(cmd_status))

    s = sub.add_parser("log", help="a run's log (papermill and the notebook's output)")
    s.add_argument("run_id", type=int)
    s.set_defaults(handler=_guard(cmd_log))

    s = sub.add_parser("cancel", help="cancel a queued or running run")
    s.add_argument("run_id", type=int)
    s.set_defaults(handler=_guard(cmd_cancel))

    p.set_defaults(handler=lambda args: p.print_help() or 2)


def _policy_options(s: argparse.ArgumentParser) -> None:
    """The options of ``create`` and ``update`` for a job's policies (docs/jobs.md, *Operating a job*)."""
    s.add_argument(
        "--executor", choices=JOB_EXECUTORS, help="where runs execute (default WORKBENCH_JOBS_EXECUTOR)"
    )
    s.add_argument("--retries", type=int, help="attempts after the first, for the failures of --retry-on")
    s.add_argument(
        "--retry-backoff", type=float, metavar="S", help="wait before the first retry [s]; doubles"
    )
    s.add_argument(
        "--retry-on", metavar="KINDS", help=f"comma-separated failure kinds: {', '.join(FAILURE_KINDS)}"
    )
    s.add_argument("--notify-on", metavar="EVENTS", help=f"comma-separated events: {', '.join(EVENTS)}")
    s.add_argument("--webhook", action="append", default=[], metavar="URL", help="notify this URL (repeat)")
    s.add_argument(
        "--email", action="append", default=[], metavar="ADDRESS", help="notify this address (repeat)"
    )
    s.add_argument(
        "--webhook-secret-file", metavar="FILE", help="file holding the HMAC key signing this job's webhooks"
    )
    s.add_argument("--keep-runs", type=int, metavar="N", help="retention: keep the newest N finished runs")
    s.add_argument(
        "--keep-days", type=float, metavar="D", help="retention: keep runs finished in the last D days"
    )
    s.add_argument(
        "--misfire", choices=MISFIRE_POLICIES, help="what a schedule does with fire times it missed"
    )
    s.add_argument("--misfire-cap", type=int, metavar="N", help="run_all: at most N missed fire times")


def policy_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The job fields that the policy options given on the command line set."""
    out: dict[str, Any] = {}
    if args.executor:
        out["executor"] = args.executor
    retry = {
        key: value
        for key, value in (
            ("retries", args.retries),
            ("backoff_s", args.retry_backoff),
            ("on", _csv(args.retry_on)),
        )
        if value is not None
    }
    if retry:
        out["retry"] = retry
    notify: dict[str, Any] = {}
    if args.notify_on is not None:
        notify["on"] = _csv(args.notify_on)
    if args.webhook:
        notify["webhooks"] = args.webhook
    if args.email:
        notify["emails"] = args.email
    if args.webhook_secret_file:
        try:
            notify["secret"] = Path(args.webhook_secret_file).read_text().strip()
        except OSError as exc:
            raise ClientError(f"--webhook-secret-file: {exc}") from None
    if notify:
        out["notify"] = notify
    retention = {
        k: v for k, v in (("keep_last", args.keep_runs), ("keep_days", args.keep_days)) if v is not None
    }
    if retention:
        out["retention"] = retention
    if args.misfire:
        out["misfire"] = args.misfire
    if args.misfire_cap is not None:
        out["misfire_cap"] = args.misfire_cap
    return out


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


_PARAM_HELP = "a notebook parameter; VALUE is read as JSON (1e-3, true, [1,2]) or else taken as text"


def parse_params(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` options as a dict; values are JSON when they parse, else strings."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ClientError(f"-p {item!r}: expected NAME=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out[name.strip()] = value
    return out


def client_for(args: argparse.Namespace) -> JobsClient:
    """The client for ``args`` (URL and token as the module docstring says)."""
    from workbench.commands.login import stored_login
    from workbench.settings import Settings

    settings = Settings.from_env()
    url = args.url or os.environ.get("WORKBENCH_JOBS_URL") or settings.local_url.rstrip("/") + API_PATH
    token = args.token or os.environ.get("WORKBENCH_TOKEN", "")
    login = None if token else stored_login()
    if login is not None:
        token = login["token"]
        url = args.url or login["url"] + API_PATH
    # Inside a lab: the lab's own token, which the hub scopes to its user's access to the jobs service.
    token = token or os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not token:
        path = Path(settings.state_dir) / "secrets" / "admin_api_token"
        try:
            token = path.read_text().strip()
        except OSError:
            raise ClientError(
                f"no token: run `workbench login`, pass --token, set WORKBENCH_TOKEN, or run where {path} exists"
            ) from None
        print(
            "note: acting as service:workbench-admin (the automation token): what you do is credited to "
            "it; run `workbench login` to act as yourself",
            file=sys.stderr,
        )
    return JobsClient(url, token)


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=1) if args.json else text)


def _run_line(run: dict[str, Any]) -> str:
    prog = run["progress"]
    cells = f" {prog['cells_done']}/{prog['cells_total']} cells" if prog.get("cells_total") else ""
    took = f" in {run['duration_s']:.1f} s" if run.get("duration_s") is not None else ""
    error = f"  error: {run['error']}" if run.get("error") else ""
    return f"run {run['id']} of {run['job']}: {run['status']}{cells}{took} ({run['trigger']} by {run['requested_by']}){error}"


def cmd_list(args: argparse.Namespace) -> int:
    jobs = client_for(args).jobs()
    lines = [f"{'name':<24} {'segment':<7} {'schedule':<14} {'last run':<28} notebook"]
    for j in jobs:
        last = j.get("last_run")
        last_text = f"{last['id']} {last['status']}" if last else "-"
        lines.append(
            f"{j['name']:<24} {j['segment']:<7} {j['schedule'] or '-':<14} {last_text:<28} {j['notebook']}"
        )
    _out(args, jobs, "\n".join(lines) if jobs else "no jobs you may see")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    job = client_for(args).job(args.name)
    declared = "\n".join(
        f"    {k}: {v['type'] or 'any'} = {v['default']!r}  {v['help']}"
        for k, v in job["notebook_parameters"].items()
    )
    text = (
        f"{job['name']} ({job['segment']}): {job['notebook']}\n  {job['description']}\n"
        f"  parameters: {json.dumps(job['parameters'])}\n  schedule: {job['schedule'] or '-'} "
        f"(next {job['next_run_at'] or '-'}, misfire {job['misfire']})\n  timeout: {job['timeout_s']} s\n"
        f"  executor: {job['executor'] or 'default'}\n  retry: {_policy(job['retry'])}\n"
        f"  notify: {_policy(job['notify'])}\n  retention: {_policy(job['retention'])}\n"
        f"  notebook parameters:\n{declared}"
    )
    _out(args, job, text)
    return 0


def _policy(value: dict[str, Any] | None) -> str:
    return "default" if value is None else json.dumps(value)


def cmd_create(args: argparse.Namespace) -> int:
    spec: dict[str, Any] = {
        "name": args.name,
        "segment": args.segment,
        "notebook": args.notebook,
        "parameters": parse_params(args.param),
        "description": args.description,
    }
    if args.schedule:
        spec["schedule"] = args.schedule
    if args.timeout is not None:
        spec["timeout_s"] = args.timeout
    spec.update(policy_fields(args))
    job = client_for(args).create(spec)
    _out(args, job, f"created job {job['name']} ({job['segment']}, {job['notebook']})")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    changes = policy_fields(args)
    if args.param:
        changes["parameters"] = parse_params(args.param)
    if args.schedule is not None:
        changes["schedule"] = args.schedule or None
    if args.timeout is not None:
        changes["timeout_s"] = args.timeout
    if args.description is not None:
        changes["description"] = args.description
    if not changes:
        raise ClientError("nothing to change: give at least one option (see --help)")
    job = client_for(args).update(args.name, changes)
    _out(args, job, f"updated job {job['name']}: {', '.join(sorted(changes))}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    client_for(args).delete(args.name)
    _out(args, {"deleted": args.name}, f"deleted job {args.name}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    client = client_for(args)
    run = client.start(args.name, parse_params(args.param), trigger="cli")
    if not args.wait:
        _out(args, run, f"run {run['id']} of {run['job']} queued")
        return 0
    run = client.wait(
        run["id"], poll_s=args.poll, on_change=None if args.json else lambda r: print(_run_line(r))
    )
    if args.json:
        print(json.dumps(run, indent=1))
    return 0 if run["status"] == "succeeded" else 1


def cmd_runs(args: argparse.Namespace) -> int:
    runs = client_for(args).runs(args.name, limit=args.limit)
    _out(args, runs, "\n".join(_run_line(r) for r in runs) if runs else "no runs")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    client = client_for(args)
    run = client.run(args.run_id)
    scraps = client.scraps(args.run_id)
    shown = {k: v for k, v in scraps.items() if not isinstance(v, list | dict)}
    text = _run_line(run) + (f"\n  scraps: {json.dumps(shown)}" if shown else "")
    for a in run.get("attempts", []):
        why = f" ({a['failure']}: {a['error']})" if a.get("failure") else ""
        text += f"\n  attempt {a['number']} on {a['executor']}{' ' + a['worker'] if a.get('worker') else ''}: {a['status']}{why}"
    prov = run.get("provenance") or {}
    if prov.get("notebook_sha256"):
        text += (
            f"\n  notebook sha256 {prov['notebook_sha256']}, {prov['environment']}, s2p {prov['s2p_version']}"
        )
    for n in run.get("notifications", []):
        text += f"\n  notification {n['event']} by {n['channel']} to {n['target']}: {n['status']}"
    _out(args, {**run, "scraps": scraps}, text)
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    sys.stdout.write(client_for(args).log(args.run_id))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    run = client_for(args).cancel(args.run_id)
    _out(args, run, _run_line(run))
    return 0


def _guard(handler: Any) -> Any:
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return int(handler(args) or 0)
        except ClientError as exc:
            print(f"workbench jobs: {exc}", file=sys.stderr)
            return 2 if exc.status in {0, 400, 401, 403, 404, 409} else 1

    wrapped.__doc__ = handler.__doc__
    return wrapped
