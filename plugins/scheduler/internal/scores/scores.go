// Package scores holds score helpers shared by the default plugins.
package scores

import tug "github.com/tugboat-io/tug/sdk/go"

// Normalize is kube-scheduler's DefaultNormalizeScore: scale to 0..MaxNodeScore by the highest
// score, reversed if asked (the highest becomes 0); all zeros stay 0, or become
// MaxNodeScore reversed.
func Normalize(s []tug.NodeScore, reverse bool) {
	var top int64
	for _, x := range s {
		top = max(top, x.Score)
	}
	for i := range s {
		switch {
		case top == 0 && reverse:
			s[i].Score = tug.MaxNodeScore
		case top == 0:
			s[i].Score = 0
		default:
			s[i].Score = tug.MaxNodeScore * s[i].Score / top
			if reverse {
				s[i].Score = tug.MaxNodeScore - s[i].Score
			}
		}
	}
}
