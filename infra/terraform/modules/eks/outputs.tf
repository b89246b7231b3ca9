output "cluster_name" {
  description = "Name of the cluster."
  value       = aws_eks_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the cluster."
  value       = aws_eks_cluster.this.arn
}

output "cluster_endpoint" {
  description = "Kubernetes API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster, for IRSA trust policies."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "oidc_provider_host" {
  description = "OIDC issuer host without https:// (the condition key prefix in IRSA trust policies)."
  value       = local.oidc_host
}

output "lb_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller's service account."
  value       = aws_iam_role.lb_controller.arn
}

output "node_role_arn" {
  description = "IAM role of the managed nodes."
  value       = aws_iam_role.node.arn
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of the Cluster Autoscaler (service account kube-system/cluster-autoscaler)."
  value       = aws_iam_role.cluster_autoscaler.arn
}
