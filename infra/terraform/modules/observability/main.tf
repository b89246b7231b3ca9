# CloudWatch for the platform: the log groups its workloads write to (created here so
# retention and KMS apply), metric filters that turn the serving service's JSON request
# lines and the pipeline's drift decision line into metrics, a dashboard, and alarms.
#
# The serving pods' stdout reaches the application log group through the
# amazon-cloudwatch-observability add-on (Fluent Bit merges each JSON line's fields into
# the record), so the filters read the fields the service logs: status, duration_ms,
# UseCase, Predicted_<class code>, PredictedCarCount (mlops_serving.observability).
# The ECS path's task log group (module ecs_service) gets the same filters, so the
# metrics, alarms and dashboard cover the service wherever it runs.
data "aws_region" "current" {}

locals {
  region     = data.aws_region.current.region
  namespace  = "MLOpsPlatform/${var.environment}"
  sm_group   = "/aws/sagemaker/ProcessingJobs"
  class_list = flatten([for uc, classes in var.prediction_classes : [for code, label in classes : { use_case = uc, code = code, label = label }]])
  class_map  = { for c in local.class_list : "${c.use_case}-${c.code}" => c }
  serving_groups = merge(
    var.cluster_name == null ? {} : { eks = aws_cloudwatch_log_group.serving[0].name },
    var.serving_log_groups,
  )
  request_filters = {
    Requests  = { pattern = "{ $.request_id = * && $.status = * }", value = "1", unit = "Count" }
    Errors5xx = { pattern = "{ $.request_id = * && $.status >= 500 }", value = "1", unit = "Count" }
    LatencyMs = { pattern = "{ $.request_id = * && $.duration_ms = * }", value = "$.duration_ms", unit = "Milliseconds" }
  }
  serving_filters = {
    for pair in setproduct(keys(local.serving_groups), keys(local.request_filters)) :
    "${pair[0]}-${pair[1]}" => merge(local.request_filters[pair[1]], { group = local.serving_groups[pair[0]], metric = pair[1] })
  }
  class_filters = {
    for pair in setproduct(keys(local.serving_groups), keys(local.class_map)) :
    "${pair[0]}-${pair[1]}" => merge(local.class_map[pair[1]], { group = local.serving_groups[pair[0]] })
  }
}

resource "aws_cloudwatch_log_group" "serving" {
  count             = var.cluster_name == null ? 0 : 1
  name              = "/aws/containerinsights/${var.cluster_name}/application"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "pipeline" {
  name              = local.sm_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# ----------------------------------------------------------------- metric filters
# One per request line (health, readiness and metrics probes are not logged).
resource "aws_cloudwatch_log_metric_filter" "serving" {
  for_each       = local.serving_filters
  name           = "${var.name}-${lower(each.key)}"
  log_group_name = each.value.group
  pattern        = each.value.pattern
  metric_transformation {
    name      = each.value.metric
    namespace = local.namespace
    value     = each.value.value
    unit      = each.value.unit
  }
}

resource "aws_cloudwatch_log_metric_filter" "predictions_by_class" {
  for_each       = local.class_filters
  name           = "${var.name}-predicted-${each.key}"
  log_group_name = each.value.group
  pattern        = "{ $.UseCase = \"${each.value.use_case}\" && $.Predicted_${each.value.code} = * }"
  metric_transformation {
    name      = "Predicted_${each.value.code}"
    namespace = local.namespace
    value     = "$.Predicted_${each.value.code}"
    unit      = "Count"
    dimensions = {
      UseCase = "$.UseCase"
    }
  }
}

resource "aws_cloudwatch_log_metric_filter" "predicted_car_count" {
  for_each       = local.serving_groups
  name           = "${var.name}-${each.key}-predicted-car-count"
  log_group_name = each.value
  pattern        = "{ $.UseCase = * && $.PredictedCarCount = * }"
  metric_transformation {
    name      = "PredictedCarCount"
    namespace = local.namespace
    value     = "$.PredictedCarCount"
    unit      = "Count"
    dimensions = {
      UseCase = "$.UseCase"
    }
  }
}

# The drift step logs one JSON line with its decision (mlops_platform.aws.sagemaker.step).
resource "aws_cloudwatch_log_metric_filter" "drift_detected" {
  name           = "${var.name}-drift-detected"
  log_group_name = aws_cloudwatch_log_group.pipeline.name
  pattern        = "{ $.event = \"drift_decision\" && $.drift_detected IS TRUE }"
  metric_transformation {
    name      = "DriftDetected"
    namespace = local.namespace
    value     = "1"
    unit      = "Count"
  }
}

# ------------------------------------------------------------------------ alarms
resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${var.name}-serving-5xx-rate"
  alarm_description   = "More than ${var.error_rate_percent}% of serving requests answered 5xx in 3 of 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "5xx rate (%)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      metric_name = "Errors5xx"
      namespace   = local.namespace
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      metric_name = "Requests"
      namespace   = local.namespace
      period      = 60
      stat        = "Sum"
    }
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "latency_p99" {
  alarm_name          = "${var.name}-serving-p99-latency"
  alarm_description   = "Serving p99 latency above ${var.p99_latency_ms} ms in 3 of 5 minutes"
  namespace           = local.namespace
  metric_name         = "LatencyMs"
  extended_statistic  = "p99"
  period              = 60
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.p99_latency_ms
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

# The alarms above treat missing data as not breaching (no traffic, no errors), so
# they stay silent when CloudWatch receives nothing at all. This one does not: it
# fires when no serving pod runs in the namespace, and when Container Insights sends
# nothing (an agent without permissions, as the add-on had before its IRSA role).
resource "aws_cloudwatch_metric_alarm" "serving_pods_unreported" {
  count               = var.cluster_name == null ? 0 : 1
  alarm_name          = "${var.name}-serving-pods-unreported"
  alarm_description   = "No running serving pod reported in ${var.serving_namespace} for 15 minutes: the pods are down, or Container Insights sends nothing"
  namespace           = "ContainerInsights"
  metric_name         = "namespace_number_of_running_pods"
  dimensions          = { ClusterName = var.cluster_name, Namespace = var.serving_namespace }
  statistic           = "Minimum"
  period              = 300
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  evaluation_periods  = 3
  treat_missing_data  = "breaching"
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "pipeline_failed" {
  alarm_name          = "${var.name}-pipeline-failed"
  alarm_description   = "A SageMaker pipeline execution failed (EventBridge rule ${var.pipeline_failed_rule_name} matched)"
  namespace           = "AWS/Events"
  metric_name         = "TriggeredRules"
  dimensions          = { RuleName = var.pipeline_failed_rule_name }
  statistic           = "Sum"
  period              = 300
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "drift_detected" {
  alarm_name          = "${var.name}-drift-detected"
  alarm_description   = "The daily pipeline found drift against the champion's training data; a challenger is trained and must beat the champion to be promoted"
  namespace           = local.namespace
  metric_name         = "DriftDetected"
  statistic           = "Sum"
  period              = 3600
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [var.alarm_topic_arn]
  tags                = var.tags
}

# --------------------------------------------------------------------- dashboard
resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "Requests and 5xx errors (per minute)"
          region  = local.region
          stat    = "Sum"
          period  = 60
          metrics = [[local.namespace, "Requests"], [local.namespace, "Errors5xx"]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Latency (ms)"
          region = local.region
          period = 60
          metrics = [
            [local.namespace, "LatencyMs", { stat = "p50", label = "p50" }],
            [local.namespace, "LatencyMs", { stat = "p90", label = "p90" }],
            [local.namespace, "LatencyMs", { stat = "p99", label = "p99" }],
          ]
          annotations = { horizontal = [{ label = "p99 alarm", value = var.p99_latency_ms }] }
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Predictions per class"
          region  = local.region
          stat    = "Sum"
          period  = 300
          metrics = [for c in local.class_list : [local.namespace, "Predicted_${c.code}", "UseCase", c.use_case, { label = "${c.use_case}: ${c.label}" }]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "PredictedCarCount (parking)"
          region  = local.region
          stat    = "Average"
          period  = 300
          metrics = [[local.namespace, "PredictedCarCount", "UseCase", "parking"]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = "Pipeline: drift detected and failed executions"
          region = local.region
          stat   = "Sum"
          period = 86400
          metrics = [
            [local.namespace, "DriftDetected"],
            ["AWS/Events", "TriggeredRules", "RuleName", var.pipeline_failed_rule_name, { label = "failed executions" }],
          ]
        }
      },
      {
        type = "alarm", x = 12, y = 12, width = 12, height = 6
        properties = {
          title = "Alarms"
          alarms = [
            aws_cloudwatch_metric_alarm.error_rate.arn,
            aws_cloudwatch_metric_alarm.latency_p99.arn,
            aws_cloudwatch_metric_alarm.pipeline_failed.arn,
            aws_cloudwatch_metric_alarm.drift_detected.arn,
          ]
        }
      },
    ]
  })
}
