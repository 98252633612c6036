"""Command line and HTTP server.

    python -m fleetcert_emulator [--host 127.0.0.1] [--port 0] [--quotas off|aws]
        [--latency-ms N] [--fault-5xx-rate F] [--fault-5xx-after-rate F]
        [--fault-drop-rate F] [--fault-seed N] [--in-progress-calls N]
        [--asynchrony off|realistic] [--thing-detach-seconds S]
        [--policy-detach-seconds S] [--ca-creating-seconds S]
        [--ca-csr-in-progress-seconds S] [--certificate-in-progress-seconds S]
        [--job-deletion-seconds S] [--revoke-transient-rate F]
        [--no-validate-requests] [--exit-on-stdin-eof] [--verbose]

Prints exactly one line on stdout when listening:
    FLEETCERT_EMULATOR_READY port=<port>
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading


def _parse(argv):
    p = argparse.ArgumentParser(prog="fleetcert_emulator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--quotas", choices=["off", "aws"], default="off")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--fault-5xx-rate", type=float, default=0.0)
    p.add_argument("--fault-5xx-after-rate", type=float, default=0.0,
                   help="5xx returned after moto carried out the request")
    p.add_argument("--fault-drop-rate", type=float, default=0.0,
                   help="connection closed without a response")
    p.add_argument("--fault-seed", type=int, default=None)
    p.add_argument("--in-progress-calls", type=int, default=0,
                   help="GetCertificate answers RequestInProgressException this many times after each issuance")
    p.add_argument("--asynchrony", choices=["off", "realistic"], default="off",
                   help="preset for the seven values below (each flag given explicitly wins)")
    for key, what in (
        ("thing_detach_seconds", "DetachThingPrincipal propagates after S seconds"),
        ("policy_detach_seconds", "DetachPolicy propagates after S seconds"),
        ("ca_creating_seconds", "a new CA stays CREATING for S seconds"),
        ("ca_csr_in_progress_seconds", "GetCertificateAuthorityCsr: RequestInProgress S seconds after CREATING"),
        ("certificate_in_progress_seconds", "GetCertificate: RequestInProgress S seconds after issuance"),
        ("job_deletion_seconds", "a deleted IoT job stays DELETION_IN_PROGRESS for S seconds"),
        ("revoke_transient_rate", "share of RevokeCertificate answered with a transient error"),
    ):
        p.add_argument("--" + key.replace("_", "-"), type=float, default=None, help=what,
                       metavar="F" if key.endswith("rate") else "S")
    p.add_argument("--no-validate-requests", action="store_true",
                   help="do not check requests against botocore's service models")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit as soon as standard input is closed")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p.parse_args(argv)


def _asynchrony_config(args) -> dict:
    from .asynchrony import RATE_KEY, SECONDS_KEYS, resolve

    patch = {"asynchrony": args.asynchrony}
    for key in (*SECONDS_KEYS, RATE_KEY):
        if getattr(args, key) is not None:
            patch[key] = getattr(args, key)
    try:
        return resolve(patch)
    except ValueError as e:
        sys.exit(f"fleetcert_emulator: {e}")


def _watch_stdin():
    try:
        while True:
            chunk = os.read(0, 4096)
            if not chunk:
                break
    except OSError:
        pass
    os._exit(0)


def build_app():
    """Apply every patch and return the WSGI app (middleware around moto)."""
    os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
    from . import (accounts, patches_iot, patches_jobs, patches_kms, patches_pca, patches_secrets,
                   patches_ssm, patches_thing_groups)
    from .middleware import EmulatorMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    accounts.apply()
    patches_pca.apply()
    patches_iot.apply()
    patches_thing_groups.apply()
    patches_jobs.apply()
    patches_kms.apply()
    patches_secrets.apply()
    patches_ssm.apply()
    # Load the service models and build the Unicode tables of Java's \p{..}
    # classes now, not inside the first request that needs them (a 0.1-0.3 s
    # stall that would skew the first request's timing).
    from . import javaregex, validation
    for service in validation.SERVICES:
        validation._model(service)
    javaregex._category_ranges()
    return EmulatorMiddleware(DomainDispatcherApplication(create_backend_app))


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.exit_on_stdin_eof:
        threading.Thread(target=_watch_stdin, daemon=True, name="stdin-eof").start()

    from . import state
    from .quotas import AWS_DEFAULTS

    state.set_launch_config({
        "quotas": dict(AWS_DEFAULTS) if args.quotas == "aws" else {},
        "jobs_data_quotas": args.quotas == "aws",
        "latency_ms": args.latency_ms,
        "fault_5xx_rate": args.fault_5xx_rate,
        "fault_5xx_after_rate": args.fault_5xx_after_rate,
        "fault_drop_rate": args.fault_drop_rate,
        "fault_seed": args.fault_seed,
        "request_in_progress_calls": args.in_progress_calls,
        "clock_offset_seconds": 0,
        **_asynchrony_config(args),
        "validate_requests": not args.no_validate_requests,
    })
    app = build_app()

    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class Handler(MotoRequestHandler):
        def log_request(self, code="-", size="-"):
            if args.verbose:
                super().log_request(code, size)

        def connection_dropped(self, error, environ=None):
            pass

    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    sys.stdout.write(f"FLEETCERT_EMULATOR_READY port={port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
