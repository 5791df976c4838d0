package main

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// The bench must change the long group's interval in the generated rules
// as they are, or it waits five minutes for a first evaluation and times out.
func TestWithGroupIntervalOnGeneratedRules(t *testing.T) {
	in, err := os.ReadFile("../../rules/bosaimail_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := withGroupInterval(in, longGroup, "10s")
	if err != nil {
		t.Fatal(err)
	}
	type group struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []any  `yaml:"rules"`
	}
	var before, after struct {
		Groups []group `yaml:"groups"`
	}
	if err := yaml.Unmarshal(in, &before); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		t.Fatal(err)
	}
	if len(after.Groups) != len(before.Groups) {
		t.Fatalf("%d groups, want %d", len(after.Groups), len(before.Groups))
	}
	seen := false
	for i, g := range after.Groups {
		b := before.Groups[i]
		if g.Name != b.Name || len(g.Rules) != len(b.Rules) {
			t.Errorf("group %d changed: %s with %d rules, want %s with %d", i, g.Name, len(g.Rules), b.Name, len(b.Rules))
		}
		want := b.Interval
		if g.Name == longGroup {
			want, seen = "10s", true
		}
		if g.Interval != want {
			t.Errorf("group %s interval %q, want %q", g.Name, g.Interval, want)
		}
	}
	if !seen {
		t.Fatalf("no group %s in the generated rules", longGroup)
	}
	if _, err := withGroupInterval(in, "no-such-group", "10s"); err == nil {
		t.Error("a missing group is not an error")
	}
}

// The bench writes every series the generated long group reads; a rule
// renamed in the mixin fails here, not as a bench measuring nothing.
func TestBenchFeedsLongGroup(t *testing.T) {
	in, err := os.ReadFile("../../rules/bosaimail_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := longGroupRules(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("the long group has no rules")
	}
	if _, err := longGroupRules([]byte("groups:\n- name: " + longGroup + "\n  rules:\n  - record: x\n    expr: avg_over_time(bosaimail:service_up:unplanned[30d])\n")); err == nil {
		t.Error("a long group reading a series the bench does not write was accepted")
	}
}
