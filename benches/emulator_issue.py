"""How fast the emulator answers IssueCertificate over HTTP (a benchmark,
not a test: timings on a shared machine are reported, never asserted).

    tests/emulator/setup.sh
    PYTHONPATH=tests/emulator tests/emulator/.venv/bin/python benches/emulator_issue.py [CALLS]

Starts its own emulator, creates a root CA and issues CALLS (default 50)
device certificates one after another; prints the median and p90 latency.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "emulator")
sys.path.insert(0, HERE)

from conftest import create_root_ca, make_client, make_csr  # noqa: E402


class _Emulator:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetcert_emulator", "--port", "0", "--exit-on-stdin-eof"],
        cwd=HERE, env=dict(os.environ, PYTHONPATH=HERE),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        port = int(line.strip().split("=", 1)[1])
        pca = make_client(_Emulator(port), "acm-pca", "000000000777")
        ca_arn, _ = create_root_ca(pca)
        csr = make_csr("perf")
        times = []
        for _ in range(calls):
            t = time.perf_counter()
            pca.issue_certificate(CertificateAuthorityArn=ca_arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                                  Validity={"Type": "DAYS", "Value": 1})
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"IssueCertificate via emulator over HTTP: median {statistics.median(times):.1f} ms, "
              f"p90 {times[int(len(times) * 0.9) - 1]:.1f} ms ({calls} calls)")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
