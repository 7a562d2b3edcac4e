// psa-evaluate: the upstream Pod Security Standards evaluator (k8s.io/pod-security-admission)
// as a filter, the oracle the tests hold govstack-gen's own evaluator to.
//
// Reads one JSON object a line: {"level": "restricted", "version": "v1.33", "metadata": {...},
// "spec": {...}} (a pod's or a pod template's metadata and spec); writes one line per input:
// {"allowed": bool, "reasons": [ForbiddenReason, ...]} in the order upstream evaluates them.
// Built by `scripts/install-tools psa` into the tool cache; never part of govstack-gen.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

type input struct {
	Level    string            `json:"level"`
	Version  string            `json:"version"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     corev1.PodSpec    `json:"spec"`
}

type output struct {
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons"`
}

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	encoder := json.NewEncoder(os.Stdout)
	for scanner.Scan() {
		var in input
		if err := json.Unmarshal(scanner.Bytes(), &in); err != nil {
			fmt.Fprintln(os.Stderr, "bad input:", err)
			os.Exit(1)
		}
		level, err := api.ParseLevel(in.Level)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		version, err := api.ParseVersion(in.Version)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out := output{Allowed: true, Reasons: []string{}}
		for _, result := range evaluator.EvaluatePod(api.LevelVersion{Level: level, Version: version}, &in.Metadata, &in.Spec) {
			if !result.Allowed {
				out.Allowed = false
				out.Reasons = append(out.Reasons, result.ForbiddenReason)
			}
		}
		if err := encoder.Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
