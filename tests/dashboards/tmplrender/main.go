// tmplrender renders a Grafana notification the way Grafana 11.6 does, for tests/dashboards/test_alert_delivery.py.
//
//	tmplrender -text '{{ template "thonminh.message" . }}' -payload alert.json templates.tmpl...
//
// Everything here follows Grafana's source, no more:
//   - the data is grafana/alerting templates.ExtendedData (Receiver, Status, Alerts with Firing/Resolved,
//     GroupLabels, CommonLabels, CommonAnnotations, ExternalURL), the JSON a webhook contact point receives;
//   - KV and its methods are prometheus/alertmanager template.KV (Grafana's fork, as vendored by Grafana 11.6);
//   - the functions are that fork's DefaultFuncs that need only the standard library, "date" and "tz" included,
//     with their exact definitions (title and safeHtml are left out: not used by thonminh's templates);
//   - the templates are parsed into one text/template with missingkey=zero, and a contact point's field is
//     executed as Template.ExecuteTextString does: a clone of the parsed set, the field parsed as an unnamed
//     template, executed on the data.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"
)

type KV map[string]string

type Pair struct{ Name, Value string }

type Pairs []Pair

func (ps Pairs) Names() []string {
	ns := make([]string, 0, len(ps))
	for _, p := range ps {
		ns = append(ns, p.Name)
	}
	return ns
}

func (ps Pairs) Values() []string {
	vs := make([]string, 0, len(ps))
	for _, p := range ps {
		vs = append(vs, p.Value)
	}
	return vs
}

// SortedPairs: alertname first, then the other names sorted (alertmanager's template.KV.SortedPairs).
func (kv KV) SortedPairs() Pairs {
	var (
		pairs     = make([]Pair, 0, len(kv))
		keys      = make([]string, 0, len(kv))
		sortStart = 0
	)
	for k := range kv {
		if k == "alertname" {
			keys = append([]string{k}, keys...)
			sortStart = 1
		} else {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys[sortStart:])
	for _, k := range keys {
		pairs = append(pairs, Pair{k, kv[k]})
	}
	return pairs
}

func (kv KV) Remove(keys []string) KV {
	keySet := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		keySet[k] = struct{}{}
	}
	res := KV{}
	for k, v := range kv {
		if _, ok := keySet[k]; !ok {
			res[k] = v
		}
	}
	return res
}

func (kv KV) Names() []string  { return kv.SortedPairs().Names() }
func (kv KV) Values() []string { return kv.SortedPairs().Values() }

type ExtendedAlert struct {
	Status       string             `json:"status"`
	Labels       KV                 `json:"labels"`
	Annotations  KV                 `json:"annotations"`
	StartsAt     time.Time          `json:"startsAt"`
	EndsAt       time.Time          `json:"endsAt"`
	GeneratorURL string             `json:"generatorURL"`
	Fingerprint  string             `json:"fingerprint"`
	SilenceURL   string             `json:"silenceURL"`
	DashboardURL string             `json:"dashboardURL"`
	PanelURL     string             `json:"panelURL"`
	Values       map[string]float64 `json:"values"`
	ValueString  string             `json:"valueString"`
	ImageURL     string             `json:"imageURL,omitempty"`
}

type ExtendedAlerts []ExtendedAlert

func (as ExtendedAlerts) Firing() []ExtendedAlert {
	res := []ExtendedAlert{}
	for _, a := range as {
		if a.Status == "firing" {
			res = append(res, a)
		}
	}
	return res
}

func (as ExtendedAlerts) Resolved() []ExtendedAlert {
	res := []ExtendedAlert{}
	for _, a := range as {
		if a.Status == "resolved" {
			res = append(res, a)
		}
	}
	return res
}

type ExtendedData struct {
	Receiver          string         `json:"receiver"`
	Status            string         `json:"status"`
	Alerts            ExtendedAlerts `json:"alerts"`
	GroupLabels       KV             `json:"groupLabels"`
	CommonLabels      KV             `json:"commonLabels"`
	CommonAnnotations KV             `json:"commonAnnotations"`
	ExternalURL       string         `json:"externalURL"`
}

var defaultFuncs = template.FuncMap{
	"toUpper":   strings.ToUpper,
	"toLower":   strings.ToLower,
	"trimSpace": strings.TrimSpace,
	"join": func(sep string, s []string) string {
		return strings.Join(s, sep)
	},
	"match": regexp.MatchString,
	"reReplaceAll": func(pattern, repl, text string) string {
		re := regexp.MustCompile(pattern)
		return re.ReplaceAllString(text, repl)
	},
	"stringSlice": func(s ...string) []string {
		return s
	},
	"date": func(fmt string, t time.Time) string {
		return t.Format(fmt)
	},
	"tz": func(name string, t time.Time) (time.Time, error) {
		loc, err := time.LoadLocation(name)
		if err != nil {
			return time.Time{}, err
		}
		return t.In(loc), nil
	},
}

func run() error {
	text := flag.String("text", "", "the contact point field to execute, e.g. {{ template \"x\" . }}")
	payload := flag.String("payload", "", "JSON file with the notification data")
	flag.Parse()

	raw, err := os.ReadFile(*payload)
	if err != nil {
		return err
	}
	var data ExtendedData
	if err := json.Unmarshal(raw, &data); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	tmpl := template.New("").Option("missingkey=zero").Funcs(defaultFuncs)
	for _, path := range flag.Args() {
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if tmpl, err = tmpl.Parse(string(content)); err != nil {
			return err
		}
	}
	clone, err := tmpl.Clone()
	if err != nil {
		return err
	}
	field, err := clone.New("").Option("missingkey=zero").Parse(*text)
	if err != nil {
		return err
	}
	var out strings.Builder
	if err := field.Execute(&out, data); err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tmplrender:", err)
		os.Exit(1)
	}
}
