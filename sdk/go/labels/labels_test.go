package labels

import "testing"

func TestMatches(t *testing.T) {
	l := map[string]string{"app": "web", "tier": "front"}
	for _, c := range []struct {
		name string
		s    *Selector
		want bool
	}{
		{"nil matches nothing", nil, false},
		{"empty matches everything", &Selector{}, true},
		{"matchLabels", &Selector{MatchLabels: map[string]string{"app": "web"}}, true},
		{"matchLabels, other value", &Selector{MatchLabels: map[string]string{"app": "db"}}, false},
		{"In", &Selector{MatchExpressions: []Requirement{{"tier", "In", []string{"front", "back"}}}}, true},
		{"NotIn", &Selector{MatchExpressions: []Requirement{{"tier", "NotIn", []string{"front"}}}}, false},
		{"NotIn, missing key", &Selector{MatchExpressions: []Requirement{{"zone", "NotIn", []string{"a"}}}}, true},
		{"Exists", &Selector{MatchExpressions: []Requirement{{"app", "Exists", nil}}}, true},
		{"DoesNotExist", &Selector{MatchExpressions: []Requirement{{"app", "DoesNotExist", nil}}}, false},
		{"unknown operator", &Selector{MatchExpressions: []Requirement{{"app", "Like", nil}}}, false},
	} {
		if got := c.s.Matches(l); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}
