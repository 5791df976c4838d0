{
  prometheusAlerts+:: {
    groups+: [],
  },
}
