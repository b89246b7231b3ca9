output "role_arn" {
  description = "ARN for the eks.amazonaws.com/role-arn annotation of the serving service account."
  value       = aws_iam_role.this.arn
}
