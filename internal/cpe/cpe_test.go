package cpe

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Name
		err  bool
	}{
		{in: "cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*", want: Name{"a", "apache", "http_server", "2.4.58", "*", "*", "*", "*", "*", "*", "*"}},
		{in: "cpe:2.3:a:postfix:postfix:3.7.9:-:*:*:*:*:*:*", want: Name{"a", "postfix", "postfix", "3.7.9", "-", "*", "*", "*", "*", "*", "*"}},
		{in: `cpe:2.3:a:microsoft:.net\:framework:4.8:*:*:*:*:*:*:*`, want: Name{"a", "microsoft", ".net:framework", "4.8", "*", "*", "*", "*", "*", "*", "*"}},
		// JVN iPedia publishes CPE 2.2 URIs.
		{in: "cpe:/a:apache:http_server", want: Name{"a", "apache", "http_server", "*", "*", "*", "*", "*", "*", "*", "*"}},
		{in: "cpe:/o:redhat:enterprise_linux:9", want: Name{"o", "redhat", "enterprise_linux", "9", "*", "*", "*", "*", "*", "*", "*"}},
		{in: "cpe:/a:dovecot:dovecot:2.3.21%3a1", want: Name{"a", "dovecot", "dovecot", "2.3.21:1", "*", "*", "*", "*", "*", "*", "*"}},
		{in: "cpe:/a:vendor:prod:1.0:-:~~~wordpress~~", want: Name{"a", "vendor", "prod", "1.0", "-", "*", "*", "*", "wordpress", "*", "*"}},
		{in: "CPE:/A:Apache:HTTP_Server:2.4", want: Name{"a", "apache", "http_server", "2.4", "*", "*", "*", "*", "*", "*", "*"}},
		{in: "cpe:2.3:a:apache:http_server:2.4", err: true},
		{in: "cpe:2.3:x:apache:http_server:2.4:*:*:*:*:*:*:*", err: true},
		{in: "cpe:2.3:a:apache::2.4:*:*:*:*:*:*:*", err: true},
		{in: `cpe:2.3:a:apache:http_server:2.4:*:*:*:*:*:*:\`, err: true},
		{in: "cpe:/a:b:c:d:e:f:g:h", err: true},
		{in: "cpe:/a:b:c:%zz", err: true},
		{in: "apache httpd", err: true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("Parse(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*", `cpe:2.3:a:microsoft:.net\:framework:4.8:*:*:*:*:*:*:*`} {
		n, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if n.String() != s {
			t.Errorf("String() = %q, want %q", n.String(), s)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2.4.9", "2.4.10", -1},
		{"2.4.58", "2.4.58", 0},
		{"2.4.058", "2.4.58", 0},
		{"1.1.1w", "1.1.1", 1},
		{"1.1.1a", "1.1.1", 1},
		{"1.1.1w", "1.1.1v", 1},
		{"8.0.0-rc1", "8.0.0", -1},
		{"8.0.0", "8.0.0-rc1", 1},
		{"8.0.0-rc2", "8.0.0-rc10", -1},
		{"3.0", "3.0.0", -1},
		{"10.0", "9.9.9", 1},
		{"2.3.21.1", "2.3.21", 1},
		{"1.0beta", "1.0", -1},
	}
	for _, tt := range tests {
		if got := CompareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := CompareVersions(tt.b, tt.a); got != -tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d (antisymmetry)", tt.b, tt.a, got, -tt.want)
		}
	}
}

func mustName(t *testing.T, s string) Name {
	t.Helper()
	n, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustMatch(t *testing.T, crit string, vuln bool, si, se, ei, ee string) Match {
	t.Helper()
	m, err := NewMatch(crit, vuln, si, se, ei, ee)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchRanges(t *testing.T) {
	const httpd = "cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*"
	tests := []struct {
		name           string
		crit           string
		si, se, ei, ee string
		inv            string
		want           bool
	}{
		{"end excluding below", httpd, "", "", "", "2.4.59", "cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*", true},
		{"end excluding equal", httpd, "", "", "", "2.4.59", "cpe:2.3:a:apache:http_server:2.4.59:*:*:*:*:*:*:*", false},
		{"end including equal", httpd, "", "", "2.4.59", "", "cpe:2.3:a:apache:http_server:2.4.59:*:*:*:*:*:*:*", true},
		{"numeric not lexical", httpd, "2.4.0", "", "", "2.4.10", "cpe:2.3:a:apache:http_server:2.4.9:*:*:*:*:*:*:*", true},
		{"start including below", httpd, "2.4.0", "", "", "2.4.10", "cpe:2.3:a:apache:http_server:2.2.34:*:*:*:*:*:*:*", false},
		{"start excluding equal", httpd, "", "2.4.0", "", "", "cpe:2.3:a:apache:http_server:2.4.0:*:*:*:*:*:*:*", false},
		{"start excluding above", httpd, "", "2.4.0", "", "", "cpe:2.3:a:apache:http_server:2.4.1:*:*:*:*:*:*:*", true},
		{"openssl letters", "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", "1.1.1", "", "", "1.1.1w", "cpe:2.3:a:openssl:openssl:1.1.1v:*:*:*:*:*:*:*", true},
		{"openssl letters fixed", "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*", "1.1.1", "", "", "1.1.1w", "cpe:2.3:a:openssl:openssl:1.1.1w:*:*:*:*:*:*:*", false},
		{"rc before release", "cpe:2.3:a:x:y:*:*:*:*:*:*:*:*", "", "", "", "8.0.0", "cpe:2.3:a:x:y:8.0.0-rc1:*:*:*:*:*:*:*", true},
		{"other product", httpd, "", "", "", "2.4.59", "cpe:2.3:a:apache:tomcat:9.0.1:*:*:*:*:*:*:*", false},
		{"inventory without version", httpd, "", "", "", "2.4.59", "cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*", false},
		{"exact version", "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*", "", "", "", "", "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*", true},
		{"exact other version", "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*", "", "", "", "", "cpe:2.3:a:postfix:postfix:3.7.10:*:*:*:*:*:*:*", false},
		{"any version", "cpe:2.3:a:postfix:postfix:*:*:*:*:*:*:*:*", "", "", "", "", "cpe:2.3:a:postfix:postfix:3.7.10:*:*:*:*:*:*:*", true},
		{"2.2 criterion", "cpe:/a:apache:http_server", "", "", "", "", "cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*", true},
		{"update narrows", "cpe:2.3:a:x:y:1.0:sp1:*:*:*:*:*:*", "", "", "", "", "cpe:2.3:a:x:y:1.0:sp2:*:*:*:*:*:*", false},
		{"target_sw narrows", "cpe:2.3:a:x:y:*:*:*:*:*:wordpress:*:*", "", "", "", "", "cpe:2.3:a:x:y:1.0:*:*:*:*:joomla:*:*", false},
		{"version wildcard", "cpe:2.3:a:x:y:2.4*:*:*:*:*:*:*:*", "", "", "", "", "cpe:2.3:a:x:y:2.4.1:*:*:*:*:*:*:*", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustMatch(t, tt.crit, true, tt.si, tt.se, tt.ei, tt.ee)
			if got := m.Matches(mustName(t, tt.inv)); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestConfigAffected(t *testing.T) {
	inv := []Name{
		mustName(t, "cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*"),
		mustName(t, "cpe:2.3:o:redhat:enterprise_linux:9:*:*:*:*:*:*:*"),
		mustName(t, "cpe:2.3:a:postfix:postfix:3.7.9:*:*:*:*:*:*:*"),
	}
	httpdVuln := mustMatch(t, "cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*", true, "", "", "", "2.4.59")
	onRHEL := mustMatch(t, "cpe:2.3:o:redhat:enterprise_linux:9:*:*:*:*:*:*:*", false, "", "", "", "")
	onWindows := mustMatch(t, "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*", false, "", "", "", "")
	postfixVuln := mustMatch(t, "cpe:2.3:a:postfix:postfix:*:*:*:*:*:*:*:*", true, "", "", "3.7.9", "")
	tests := []struct {
		name string
		cfg  Config
		want []int
	}{
		{"simple OR", Config{Nodes: []Node{{Operator: "OR", Matches: []Match{httpdVuln}}}}, []int{0}},
		{"running on RHEL (platform present)", Config{Operator: "AND", Nodes: []Node{{Operator: "OR", Matches: []Match{httpdVuln}}, {Operator: "OR", Matches: []Match{onRHEL}}}}, []int{0}},
		{"running on Windows (platform absent)", Config{Operator: "AND", Nodes: []Node{{Operator: "OR", Matches: []Match{httpdVuln}}, {Operator: "OR", Matches: []Match{onWindows}}}}, nil},
		{"platform alone never affected", Config{Nodes: []Node{{Operator: "OR", Matches: []Match{onRHEL}}}}, nil},
		{"AND node needs all", Config{Nodes: []Node{{Operator: "AND", Matches: []Match{httpdVuln, onWindows}}}}, nil},
		{"AND node all present", Config{Nodes: []Node{{Operator: "AND", Matches: []Match{httpdVuln, onRHEL}}}}, []int{0}},
		{"OR of two", Config{Operator: "OR", Nodes: []Node{{Matches: []Match{httpdVuln}}, {Matches: []Match{postfixVuln}}}}, []int{0, 2}},
		{"platform '-' version means any", Config{Operator: "AND", Nodes: []Node{{Matches: []Match{httpdVuln}}, {Matches: []Match{mustMatch(t, "cpe:2.3:o:redhat:enterprise_linux:-:*:*:*:*:*:*:*", false, "", "", "", "")}}}}, []int{0}},
		{"vulnerable '-' version is strict", Config{Nodes: []Node{{Matches: []Match{mustMatch(t, "cpe:2.3:a:apache:http_server:-:*:*:*:*:*:*:*", true, "", "", "", "")}}}}, nil},
		{"negated platform", Config{Operator: "AND", Nodes: []Node{{Matches: []Match{httpdVuln}}, {Negate: true, Matches: []Match{onRHEL}}}}, nil},
		{"no nodes", Config{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cfg.Affected(inv)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Affected = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"cpe:2.3:a:apache:http_server:2.4.58:*:*:*:*:*:*:*", "cpe:/a:apache:http_server:2.4", `cpe:2.3:a:b\:c:d:*:*:*:*:*:*:*:*`, "cpe:/a:v:p:1:-:~a~b~c~d~e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		// A parsed name must survive its own 2.3 form.
		back, err := Parse(n.String())
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, n.String(), err)
		}
		if back != n {
			t.Fatalf("round trip %q: %+v != %+v", s, back, n)
		}
	})
}

func FuzzCompareVersions(f *testing.F) {
	f.Add("1.1.1w", "1.1.1")
	f.Add("8.0.0-rc1", "8.0.0")
	f.Fuzz(func(t *testing.T, a, b string) {
		if CompareVersions(a, b) != -CompareVersions(b, a) {
			t.Fatalf("not antisymmetric: %q %q", a, b)
		}
	})
}
