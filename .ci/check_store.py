"""CI check: the smoke runs exist in the MLflow store, FINISHED, with per-epoch training and
validation metrics at steps 1 and 2, and every test metric scored once at the end (final_test_*)."""

import sys

from mlflow import MlflowClient

# experiment -> (runs expected, of which sweep children, (per-epoch metrics, test metrics), headline)
REGRESSION = (("train_loss", "val_rmse"), ("test_rmse", "test_mae", "test_medae", "test_r2"))
CLASSIFICATION = (("train_loss", "val_log_loss"),
                  ("test_accuracy", "test_f1", "test_roc_auc", "test_average_precision", "test_ece"))
PAIRS = (("train_loss", "val_roc_auc"),
         ("test_roc_auc", "test_eer", "test_accuracy", "test_pos_dist", "test_neg_dist"))
EXPECTED = {
    "house_price": (1, 0, REGRESSION, "final_test_rmse"),
    "power_outliers": (3, 2, REGRESSION, "final_test_rmse"),
    "diabetes": (1, 0, REGRESSION, "final_test_rmse"),
    "spam": (1, 0, CLASSIFICATION, "final_test_accuracy"),
    "mnist": (2, 0, CLASSIFICATION, "final_test_accuracy"),
    "cancer_screening": (2, 2, (CLASSIFICATION[0], CLASSIFICATION[1] + ("test_recall_at_90_precision",)),
                         "final_test_average_precision"),
    "face_verification": (5, 3, PAIRS, "final_test_roc_auc"),
}

client = MlflowClient(sys.argv[1])
failures = []
for name, (n_runs, n_children, metrics, final) in EXPECTED.items():
    exp = client.get_experiment_by_name(name)
    if exp is None:
        failures.append(f"no experiment {name}")
        continue
    runs = [r for r in client.search_runs([exp.experiment_id])
            if r.data.tags.get("lossbench.role") != "sweep"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    print(f"{name}: {len(runs)} runs ({len(children)} in a sweep)")
    if (len(runs), len(children)) != (n_runs, n_children):
        failures.append(f"{name}: expected {n_runs} runs / {n_children} children")
    for r in runs:
        status = r.info.status
        per_epoch, test = metrics
        steps = {k: [m.step for m in client.get_metric_history(r.info.run_id, k)] for k in per_epoch}
        missing = [f"final_{k}" for k in test if f"final_{k}" not in r.data.metrics]
        ok = (status == "FINISHED" and final in r.data.metrics and not missing
              and all(s == [1, 2] for s in steps.values()))
        print(f"  {r.info.run_name:32s} {status:9s} {final}="
              f"{r.data.metrics.get(final, float('nan')):.4f} steps_ok={ok}")
        if not ok:
            failures.append(f"{r.info.run_name}: status {status}, steps {steps}, missing {missing}")
if failures:
    sys.exit("store check failed:\n  " + "\n  ".join(failures))
print("store check passed")
