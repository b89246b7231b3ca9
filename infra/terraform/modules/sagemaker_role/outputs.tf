output "role_arn" {
  description = "ARN of the SageMaker execution role (mlops-sagemaker run --role)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the SageMaker execution role."
  value       = aws_iam_role.this.name
}
