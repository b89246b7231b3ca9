output "arn" {
  description = "Tracking server ARN: MLOPS_MLFLOW_TRACKING_URI of the compiled steps (the sagemaker-mlflow plugin resolves it)."
  value       = aws_sagemaker_mlflow_tracking_server.this.arn
}

output "url" {
  description = "The server's URL (the MLflow UI, through a presigned URL)."
  value       = aws_sagemaker_mlflow_tracking_server.this.tracking_server_url
}

output "role_arn" {
  description = "The server's own role (artifact store access)."
  value       = aws_iam_role.this.arn
}

output "window" {
  description = "The daily window's schedule expressions (start, stop) that are set; empty when the server runs all the time."
  value       = local.window
}
