package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// AlertmanagerTestConfig derives the configuration Alertmanager runs with in
// the demo and the e2e test from the example (examples/alertmanager/
// alertmanager.yml), changing only addresses and paths:
//   - global.smtp_smarthost -> smarthost, trusting the CA in caFile;
//   - the heartbeat webhook's url_file -> heartbeatURLFile;
//   - other relative paths (templates, *_file) -> absolute, resolved against
//     the example's directory, so the result runs from any directory.
//
// Routes, receivers, recipients, timing, inhibition and templates stay as
// they are: what is tested is what is shipped.
func AlertmanagerTestConfig(example, smarthost, caFile, heartbeatURLFile string) ([]byte, error) {
	src, err := os.ReadFile(example)
	if err != nil {
		return nil, err
	}
	base, err := filepath.Abs(filepath.Dir(example))
	if err != nil {
		return nil, err
	}
	doc, root, err := mappingDoc(example, src)
	if err != nil {
		return nil, err
	}

	global := mapValue(root, "global")
	if global == nil || mapValue(global, "smtp_smarthost") == nil {
		return nil, fmt.Errorf("%s: global.smtp_smarthost is missing", example)
	}
	mapValue(global, "smtp_smarthost").Value = smarthost
	setMap(global, "smtp_tls_config", &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		scalar("ca_file"), scalar(caFile),
	}})

	abs := func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Value != "" && !filepath.IsAbs(n.Value) {
			n.Value = filepath.Join(base, n.Value)
		}
	}
	if t := mapValue(root, "templates"); t != nil {
		for _, n := range t.Content {
			abs(n)
		}
	}
	urlFiles := 0
	walkMaps(root, map[*yaml.Node]bool{}, func(key string, v *yaml.Node) {
		switch {
		case key == "url_file":
			v.Value = heartbeatURLFile
			urlFiles++
		case strings.HasSuffix(key, "_file"):
			abs(v)
		}
	})
	if urlFiles != 1 {
		return nil, fmt.Errorf("%s: want exactly one webhook with url_file (the heartbeat), found %d", example, urlFiles)
	}
	return encodeDoc(doc)
}

func scalar(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// mapValue returns the value of key in mapping m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setMap(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

// walkMaps calls fn for every scalar value of every mapping under n. Nodes
// shared through YAML anchors are visited once.
func walkMaps(n *yaml.Node, seen map[*yaml.Node]bool, fn func(key string, v *yaml.Node)) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.ScalarNode {
				fn(n.Content[i].Value, v)
			} else {
				walkMaps(v, seen, fn)
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			walkMaps(c, seen, fn)
		}
	case yaml.AliasNode:
		walkMaps(n.Alias, seen, fn)
	}
}
