// Every threshold, window and selector of the mixin, so another prefecture
// can change them without touching the rules. Each area keeps its block.
{
  _config+:: {
    // Selects the exporter's series.
    selector: 'job="bosaimail"',
    // Base of every runbook_url; one section per alert in docs/runbooks.md.
    runbookURL: 'https://github.com/bosaimail/bosaimail_exporter/blob/main/docs/runbooks.md',
    // Dashboard language: 'ja' (default) or 'en'.
    language: 'ja',

    // --- availability (issue 4) ---
    // The contract: availability of at least this ratio, planned stops
    // excluded, and at most outageBudget unplanned outages a year.
    availabilityObjective: 0.995,
    outageBudget: 3,
    // 停止 separated by a recovery shorter than this (planned stops not
    // counted) are one 停止. Whole minutes.
    outageMergeWindow: '5m',
    // A down shorter than this is a 瞬断, neither downtime nor an outage.
    // Whole minutes; serviceDownFor must not be longer (every 停止 paged).
    minOutage: '1m',
    // 対象システム: the services of the contract (a regex of service
    // names) as one system, down while any of them is down; its figures
    // carry service=<contractSystemName>.
    contractServices: '.+',
    contractSystemName: '対象システム',
    // The contract year starts on the 1st of this month, 00:00 JST.
    contractYearStartMonth: 4,
    // The contract-year sums carry over a Prometheus restart this short.
    availabilityCarryWindow: '1d',
    // Evaluation interval of the availability group: one recorded sample
    // per minute of the contract (must stay 1m).
    availabilityInterval: '1m',
    // Reaches back to the previous evaluation of the same group (left-open
    // range, so more than one interval and less than two).
    availabilityPreviousWindow: '90s',
    // The 30d/365d ratios and the outage count change slowly: a separate
    // group evaluates them less often.
    availabilityLongInterval: '5m',
    // BosaiMailOutageBudgetAtRisk/Exhausted fire for this long after the
    // contract-year count rose (one mail per new 停止).
    outageBudgetNoticeFor: '1h',
    // BosaiMailServiceDown fires after the service is down this long. The
    // exporter re-probes a failed critical check at once within the scrape
    // (bosaimail_check_retries_total), so one lost probe never reads as
    // down; 15s then means two scrapes in a row (four probes) failed at the
    // production interval: a real outage is paged about 35 s after it
    // starts instead of about 85 s, and a blip shorter than a scrape
    // interval is never paged.
    serviceDownFor: '15s',
    // Evaluation interval of the service-level alerts (BosaiMailServiceDown
    // and its neighbours). At the global 15s, an evaluation that happens
    // just before each scrape adds almost 15 s to every page; at 5s it adds
    // at most 5 s. The rules read a handful of series: cheap.
    serviceDownEvalInterval: '5s',
    // The exporter not scraped (or a service missing from its output) this
    // long is an alert: that time is 稼働未確認 and counts against the
    // contractual availability.
    exporterDownFor: '5m',
    monitoringGapFor: '5m',
    // Multi-window multi-burn-rate alerts over a 30-day budget (Google SRE
    // workbook, chapter 5): page pairs are critical, ticket pairs warning.
    availabilityBurnRates: [
      { severity: 'critical', long: '1h', short: '5m', factor: 14.4, 'for': '2m' },
      { severity: 'critical', long: '6h', short: '30m', factor: 6, 'for': '15m' },
      { severity: 'warning', long: '1d', short: '2h', factor: 3, 'for': '1h' },
      { severity: 'warning', long: '3d', short: '6h', factor: 1, 'for': '3h' },
    ],

    // --- checks (issues 2, 3) ---
    // How long a check must fail, seen from every exporter instance, before
    // BosaiMailCheckFailing fires (a single failed scrape is noise).
    checkFailingFor: '5m',
    // A canary mail slower than this (send to arrival) ...
    roundTripSlowSeconds: 60,
    // ... for this long (about three canaries at the default 5m interval)
    // fires BosaiMailRoundTripSlow.
    roundTripSlowFor: '15m',
    // Certificate expiry: warning below this many days, critical below the
    // second (renewal takes the contractor's change procedure).
    tlsCertExpiryWarningDays: 21,
    tlsCertExpiryCriticalDays: 7,

    // --- cloud (issue 5) ---
    // How long a provider must report a component degraded or down before
    // BosaiMailCloudDegraded fires (status pages flap during an incident).
    cloudDegradedFor: '10m',
    // BosaiMailCloudMaintenanceScheduled fires when an announced maintenance
    // starts within the first number of days (label ahead="7d"), and again
    // within the second (ahead="1d").
    cloudMaintenanceNoticeDays: [7, 1],
    // Sending quota use (e.g. SES 24-hour quota): warning from, critical from.
    sendQuotaWarningRatio: 0.8,
    sendQuotaCriticalRatio: 0.95,
    sendQuotaWarningFor: '5m',
    // How long a background source may fail before BosaiMailSourceFailing
    // (three refreshes at the default 5m interval).
    sourceFailingFor: '15m',

    // --- jobs, backups, integrity (issue 6) ---
    // Per-job schedules, grace periods and per-backup max ages live in the
    // exporter config (jobs.scheduled, jobs.backups) and reach the rules as
    // bosaimail_job_next_due_timestamp_seconds / bosaimail_backup_max_age_seconds.
    // How long a failed last run must stand before BosaiMailJobFailed fires.
    jobFailedFor: '0m',
    // How long past its due time a job may be before it is overdue.
    jobOverdueFor: '5m',
    // BosaiMailBackupTooSmall: the newest backup is smaller than the one
    // before by more than this fraction.
    backupSizeDropFraction: 0.5,
    // How long a newer, incomplete backup artefact may stay incomplete
    // (a backup still being written is incomplete for a while).
    backupIncompleteFor: '2h',

    // --- security (issue 7) ---
    // Advisory alerts fire per product on the worse of the JVN and NVD
    // counts; an acknowledgement (advisories.acknowledgements_file) is the
    // only way to close one.
    securityAdvisoryFor: '0m',
    // Antivirus signatures older than this fire BosaiMailAntivirusSignaturesStale
    // (ClamAV publishes several daily updates a day).
    antivirusSignatureMaxAgeSeconds: 2 * 24 * 3600,
    // Finding severities (feed's own words, mapped) that fire BosaiMailSecurityFinding.
    securityFindingSeverities: 'critical|high',
    // A declared inventory version that differs from the running one for
    // this long fires BosaiMailInventoryDrift (an upgrade in progress is not drift).
    inventoryDriftFor: '30m',

    // --- delivery (issue 12) ---
    // A broadcast (one alert mail to every registered address) must be
    // delivered within this many seconds of its start; a projected
    // completion beyond it fires BosaiMailDeliveryBacklog.
    broadcastObjectiveSeconds: 900,
    // How long the projection must stay beyond the objective (the drain
    // rate of the first minute is noisy).
    broadcastBacklogFor: '2m',
    // BosaiMailQueueStuck: the oldest message in the incoming or active
    // queue is older than this and the queue has not drained ...
    queueStuckAgeSeconds: 1800,
    // ... for this long. (The deferred queue holds old messages by design:
    // a full mailbox is retried for days.)
    queueStuckFor: '10m',
    // Sender-reputation thresholds: Amazon SES puts an account under review
    // at a 5 % bounce rate and a 0.1 % complaint rate.
    bounceRatioThreshold: 0.05,
    complaintRatioThreshold: 0.001,
    deliveryRatioFor: '15m',
    // --- database and hosts (issue 18) ---
    // postgres_exporter's series (PostgreSQL only: mysqld_exporter's names
    // share too little to put both behind one set of rules).
    postgresSelector: 'job="postgres"',
    // node_exporter's series of the service's own machines.
    nodeSelector: 'job="node"',
    // A database server and its machine are matched by the host part of
    // their instance labels (the ports differ): this regex's first group.
    hostFromInstance: '(.*):[0-9]+',
    // The filesystem that holds the PostgreSQL data directory, for the
    // database's days-until-full forecast: the first of these mountpoints
    // the database's host has (Debian's and RHEL's data directories, then
    // their parents).
    databaseVolumeMountpoints: ['/var/lib/postgresql', '/var/lib/pgsql', '/var/lib', '/var', '/'],
    // Growth trends (forecasts, report's capacity section) fit this window:
    // a day, so nightly batches and log rotation do not look like a trend.
    capacityTrendWindow: '1d',
    databaseDownFor: '1m',
    // A scrape of postgres_exporter that fails after at least this long
    // timed out waiting for the database (a hung server answers a
    // connection but nothing else, so pg_up is never written); a refused
    // or dead exporter fails at once. Set it a little under the postgres
    // job's scrape_timeout (examples/prometheus.yml: the 10s default).
    databaseUnresponsiveScrapeSeconds: 9,
    databaseExporterDownFor: '5m',
    // Connections over (max_connections - superuser_reserved_connections).
    databaseConnectionsWarningRatio: 0.8,
    databaseConnectionsFor: '5m',
    // Replica replay lag (pg_replication_lag_seconds), seconds.
    databaseReplicationLagSeconds: 300,
    databaseReplicationFor: '5m',
    // A transaction running this long (state active), and a session idle
    // in an open transaction this long (it holds locks and stops VACUUM).
    databaseLongTransactionSeconds: 1800,
    databaseIdleInTransactionSeconds: 600,
    databaseSessionFor: '1m',
    // More than this many deadlocks in databaseDeadlocksWindow.
    databaseDeadlocks: 2,
    databaseDeadlocksWindow: '15m',
    // Transaction-ID age as a fraction of the 2^31 wraparound horizon
    // (PostgreSQL stops accepting writes near it): warning, critical.
    databaseXidAgeWarningRatio: 0.5,
    databaseXidAgeCriticalRatio: 0.75,
    databaseXidAgeFor: '5m',
    // Dead tuples over all tuples of a table, for tables with at least
    // databaseDeadTuplesMin dead tuples (small tables are noise).
    databaseDeadTupleRatio: 0.2,
    databaseDeadTuplesMin: 10000,
    databaseDeadTuplesFor: '1h',
    // A table above autovacuum's own trigger for this long: autovacuum is
    // not keeping up (or a long transaction keeps it from cleaning).
    databaseAutovacuumBehindFor: '2h',
    // Days until the database's growth fills its volume.
    databaseFullWarningDays: 30,
    databaseVolumeFillingFor: '1h',
    // Buffer cache hit ratio below this, while the database reads at least
    // databaseCacheMinReadsPerSecond blocks from disk.
    databaseCacheHitRatio: 0.9,
    databaseCacheMinReadsPerSecond: 10,
    databaseCacheFor: '30m',
    // Requested (not timed) checkpoints: more than this share of the
    // checkpoints of the last hour, at least databaseCheckpointsReqMin.
    databaseCheckpointReqRatio: 0.5,
    databaseCheckpointsReqMin: 3,
    databaseCheckpointFor: '15m',
    // Jobs (job_name regex) that check the live database's integrity
    // (pg_amcheck, table checksums) through the jobs push API.
    databaseIntegrityJobs: 'db-integrity.*',
    databaseIntegrityOverdueFor: '5m',

    hostExporterDownFor: '5m',
    // Filesystems watched (node_filesystem labels).
    hostFilesystemSelector: 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs|fuse.*",mountpoint!~"/run.*|/boot/efi"',
    // predict_linear over this window: full within the days of the warning
    // and critical tiers.
    hostFilesystemTrendWindow: '6h',
    hostFilesystemFullWarningDays: 7,
    hostFilesystemFullCriticalDays: 1,
    // ... only while less than this fraction is free (a big, mostly empty
    // disk filling fast is not yet a problem).
    hostFilesystemFillingWarningFreeRatio: 0.4,
    hostFilesystemFillingCriticalFreeRatio: 0.2,
    hostFilesystemFillingFor: '1h',
    // Free space below these fractions, whatever the trend.
    hostFilesystemFreeWarningRatio: 0.1,
    hostFilesystemFreeCriticalRatio: 0.05,
    hostInodesFreeWarningRatio: 0.1,
    hostInodesFreeCriticalRatio: 0.03,
    hostFilesystemFor: '5m',
    // MemAvailable over MemTotal below this ...
    hostMemoryAvailableRatio: 0.1,
    hostMemoryFor: '15m',
    // CPU busy (not idle, not iowait) above this for this long.
    hostCPUBusyRatio: 0.9,
    hostCPUFor: '30m',
    // Clock offset from NTP; TLS checks and cron schedules rely on it.
    hostClockSkewSeconds: 0.5,
    hostClockFor: '10m',
    // systemd units of the mail stack (node_exporter --collector.systemd).
    hostUnits: 'postfix.*|dovecot.*|postgresql.*|nginx.*|apache2.*|httpd.*|bosaimail.*',
    hostUnitFailedFor: '1m',
  },
}
