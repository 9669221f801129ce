"""The examples run as written against a real routerd."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src")
EX = os.path.join(HERE, "..", "examples")


def run_example(name, url):
    env = dict(os.environ, AF_ROUTERD=url, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, os.path.join(EX, name)], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_langgraph_node(cluster, url):
    before = cluster.metric("af_routerd_reports_accepted_total")
    out = run_example("langgraph_node.py", url)
    assert "'answer': '[swift-mid@" in out and "'decision_id': 'sdk-" in out
    assert "outcome:" in out
    assert cluster.metric("af_routerd_reports_accepted_total") == before + 1


def test_temporal_activity(cluster, url):
    out = run_example("temporal_activity.py", url)
    assert "'summary': '[" in out
    assert "attempt 9: RETRY_LIMIT: " in out
