package stack

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Replica is what differs between the Prometheus replicas of a test and
// the example: its name, the addresses it talks to, the intervals.
type Replica struct {
	Name                         string
	ScrapeInterval, EvalInterval time.Duration
	RuleFiles                    []string
	Alertmanagers, Exporters     []string // host:port
	// RemoteWrite is the long-term store's write URL; empty removes the
	// example's remote_write.
	RemoteWrite string
}

// PrometheusReplicaConfig derives a replica's configuration from the
// example (examples/prometheus.yml), changing only names, addresses and
// intervals: external_labels.replica, rule_files, the Alertmanager and
// exporter targets, the remote_write URL, the intervals (and the scrape
// timeout, which may not exceed the interval). The relabelling that drops
// `replica` for Alertmanager and the long-term store stays as shipped; the
// example must have both, and exactly one Alertmanager set, one bosaimail
// job and one remote_write, or this fails naming what is missing.
func PrometheusReplicaConfig(example string, r Replica) ([]byte, error) {
	src, err := os.ReadFile(example)
	if err != nil {
		return nil, err
	}
	doc, root, err := mappingDoc(example, src)
	if err != nil {
		return nil, err
	}
	fail := func(what string) error { return fmt.Errorf("%s: %s", example, what) }

	global := mapValue(root, "global")
	if global == nil {
		return nil, fail("no global section")
	}
	setMap(global, "scrape_interval", scalar(r.ScrapeInterval.String()))
	setMap(global, "evaluation_interval", scalar(r.EvalInterval.String()))
	ext := mapValue(global, "external_labels")
	if ext == nil || mapValue(ext, "replica") == nil {
		return nil, fail("global.external_labels.replica is missing (each replica names itself)")
	}
	mapValue(ext, "replica").Value = r.Name

	setMap(root, "rule_files", scalarSeq(r.RuleFiles))

	alerting := mapValue(root, "alerting")
	if alerting == nil {
		return nil, fail("no alerting section")
	}
	if !dropsReplica(mapValue(alerting, "alert_relabel_configs")) {
		return nil, fail("alerting.alert_relabel_configs does not drop the replica label: Alertmanager would mail once per replica")
	}
	ams := mapValue(alerting, "alertmanagers")
	if ams == nil || len(ams.Content) != 1 {
		return nil, fail("want exactly one alerting.alertmanagers entry")
	}
	if err := setTargets(ams.Content[0], r.Alertmanagers); err != nil {
		return nil, fail("alertmanagers: " + err.Error())
	}

	rw := mapValue(root, "remote_write")
	if rw == nil || len(rw.Content) != 1 {
		return nil, fail("want exactly one remote_write entry (the long-term store)")
	}
	if !dropsReplica(mapValue(rw.Content[0], "write_relabel_configs")) {
		return nil, fail("remote_write.write_relabel_configs does not drop the replica label: the store could not deduplicate the replicas")
	}
	if r.RemoteWrite == "" {
		removeKey(root, "remote_write")
	} else {
		setMap(rw.Content[0], "url", scalar(r.RemoteWrite))
		// Send within a second, so a test sees the samples promptly.
		setMap(rw.Content[0], "queue_config", &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			scalar("batch_send_deadline"), scalar("1s"),
		}})
	}

	scs := mapValue(root, "scrape_configs")
	var job *yaml.Node
	if scs != nil {
		for _, sc := range scs.Content {
			if n := mapValue(sc, "job_name"); n != nil && n.Value == "bosaimail" {
				job = sc
			}
		}
	}
	if job == nil {
		return nil, fail("no scrape config with job_name bosaimail")
	}
	if t := mapValue(job, "scrape_timeout"); t != nil {
		d, err := time.ParseDuration(t.Value)
		if err != nil {
			return nil, fail("scrape_timeout: " + err.Error())
		}
		if d > r.ScrapeInterval {
			t.Value = r.ScrapeInterval.String()
		}
	}
	if err := setTargets(job, r.Exporters); err != nil {
		return nil, fail("job bosaimail: " + err.Error())
	}
	return encodeDoc(doc)
}

// dropsReplica tells whether a relabel list has labeldrop of "replica".
func dropsReplica(list *yaml.Node) bool {
	if list == nil {
		return false
	}
	for _, rc := range list.Content {
		a, re := mapValue(rc, "action"), mapValue(rc, "regex")
		if a != nil && re != nil && a.Value == "labeldrop" && re.Value == "replica" {
			return true
		}
	}
	return false
}

// setTargets replaces the one static_configs entry's targets.
func setTargets(n *yaml.Node, targets []string) error {
	sc := mapValue(n, "static_configs")
	if sc == nil || len(sc.Content) != 1 {
		return fmt.Errorf("want exactly one static_configs entry")
	}
	setMap(sc.Content[0], "targets", scalarSeq(targets))
	return nil
}

func scalarSeq(vs []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range vs {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: yaml.DoubleQuotedStyle})
	}
	return n
}

func removeKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
