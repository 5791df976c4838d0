package cloudstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/itchyny/gojq"
)

// JSONValue is one value a jq query yielded, with its optional key.
type JSONValue struct {
	Key   string
	Value float64
}

// JSONQuery maps a JSON document to numbers: Code is a compiled jq
// expression (config.CompileJQ) whose every result is a number, a boolean
// (1/0), a string looked up in ValueMap (enum mapping, e.g. "ok": 1), or an
// object {"key": string, "value": one of those} for several keyed values.
type JSONQuery struct {
	Name     string
	Code     *gojq.Code
	ValueMap map[string]float64
}

// maxJSONResults bounds what one query may yield (a runaway expression like
// `range(1e9)` must not eat memory or hang past the context).
const maxJSONResults = 1000

// DecodeJSON parses data once and runs the queries over it.
func DecodeJSON(ctx context.Context, data []byte, queries []JSONQuery) (map[string][]JSONValue, error) {
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	out := make(map[string][]JSONValue, len(queries))
	for _, q := range queries {
		iter := q.Code.RunWithContext(ctx, doc)
		var vals []JSONValue
		for {
			v, ok := iter.Next()
			if !ok {
				break
			}
			if err, ok := v.(error); ok {
				return nil, fmt.Errorf("query %s: %w", q.Name, err)
			}
			if len(vals) >= maxJSONResults {
				return nil, fmt.Errorf("query %s: more than %d results", q.Name, maxJSONResults)
			}
			jv, err := toValue(v, q.ValueMap)
			if err != nil {
				return nil, fmt.Errorf("query %s result %d: %w", q.Name, len(vals), err)
			}
			vals = append(vals, jv)
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("query %s: no result (field missing?)", q.Name)
		}
		out[q.Name] = vals
	}
	return out, nil
}

func toValue(v any, vm map[string]float64) (JSONValue, error) {
	if m, ok := v.(map[string]any); ok {
		k, ok := m["key"].(string)
		if !ok {
			return JSONValue{}, fmt.Errorf("object result needs a string \"key\", got %v", m["key"])
		}
		inner, ok := m["value"]
		if !ok {
			return JSONValue{}, fmt.Errorf("object result for key %q has no \"value\"", k)
		}
		f, err := toFloat(inner, vm)
		return JSONValue{Key: k, Value: f}, err
	}
	f, err := toFloat(v, vm)
	return JSONValue{Value: f}, err
}

func toFloat(v any, vm map[string]float64) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("not a finite number")
		}
		return x, nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		if f, ok := vm[x]; ok {
			return f, nil
		}
		if len(vm) == 0 {
			if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f, nil
			}
		}
		return 0, fmt.Errorf("string %q is not in value_map", x)
	case nil:
		return 0, fmt.Errorf("null (field missing?)")
	}
	return 0, fmt.Errorf("result of type %T is not a number, boolean, string or {key, value}", v)
}
