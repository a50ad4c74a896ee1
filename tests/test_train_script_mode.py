"""``sagemaker_program`` hands the job to the sagemaker-training toolkit's script mode."""

from __future__ import annotations

import json

SCRIPT = """
import json, os, sys
if "--fail" in sys.argv:
    raise SystemExit("the user's script gave up")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "from-script.json"), "w") as f:
    json.dump({"argv": sys.argv[1:], "train": os.environ["SM_CHANNEL_TRAIN"]}, f)
"""


def script_job(job, tmp_path, **hp: str):
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SCRIPT)
    # The toolkit waits until every host name resolves: use one that does.
    job.write_config("resourceconfig", {"current_host": "localhost", "hosts": ["localhost"]})
    job.channel("train")
    values = {
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(str(code)),
        "max_depth": "3",
        **hp,
    }
    job.write_config("hyperparameters", values)


def test_user_script_runs_with_the_toolkit_environment(job, tmp_path):
    script_job(job, tmp_path)
    done = job.train()
    assert done.returncode == 0, done.stdout + done.stderr
    ran = json.loads((job.model_dir / "from-script.json").read_text())
    assert ran["argv"] == ["--max_depth", "3"]
    assert ran["train"] == str(job.base / "input" / "data" / "train")


def test_failing_user_script_is_reported_by_the_toolkit(job, tmp_path):
    script_job(job, tmp_path, fail="1")
    done = job.train()
    assert done.returncode != 0
    assert "ExecuteUserScriptError" in job.failure
