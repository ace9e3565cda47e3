"""CI check: the WGAN smoke runs (one faces run, a 3-loss toy sweep, an interrupted toy run and
its resume) are in the MLflow store, FINISHED, with their headline metric; the resumed run
carries the whole metric history."""

import sys

from mlflow import MlflowClient

client = MlflowClient(sys.argv[1])
runs = [r for r in client.search_runs([client.get_experiment_by_name("wgan").experiment_id])
        if r.data.tags.get("lossbench.role") != "sweep"]
for r in runs:
    key = f"final_{r.data.params['trainer.monitor']}"
    print(f"  {r.info.run_name:32s} {r.info.status:9s} {key}={r.data.metrics.get(key, float('nan')):.4f}")
assert len(runs) == 6 and all(r.info.status == "FINISHED" for r in runs), len(runs)
for r in runs:
    key = f"final_{r.data.params['trainer.monitor']}"
    assert key in r.data.metrics, (r.info.run_name, key)
resumed = [r for r in runs if "resumed_from_step" in r.data.tags]
assert len(resumed) == 1 and resumed[0].data.metrics["steps_run"] == 40
steps = [m.step for m in client.get_metric_history(resumed[0].info.run_id, "w1")]
assert steps == [0, 10, 20, 30, 40], steps
print("wgan store check passed:", len(runs), "runs")
