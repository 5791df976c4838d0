// The one PromQL definition of "the service is up" and "the service is in a
// planned stop". The availability recording rules sample it once per
// availabilityInterval (the contract's figures); BosaiMailServiceDown reads
// it directly at every evaluation, so a fault is paged one scrape after it
// happens rather than up to an availability interval later.
{
  // Per exporter instance: every critical check of the service up.
  upPerInstance(selector):: 'min by (service, instance) (bosaimail_check_up{%s, critical="true"})' % selector,
  // Up if at least one instance sees every critical check up: one vantage
  // point's network trouble is not an outage. perInstance is an expression
  // or series with the labels service and instance.
  up(perInstance):: 'max by (service) (%s)' % perInstance,
  // 1 while any instance's maintenance calendar has the service in a
  // planned stop.
  maintenanceActive(selector):: 'max by (service) (bosaimail_maintenance_active{%s})' % selector,
}
