package stack

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// mappingDoc parses an example configuration that the stack edits as a
// YAML tree (so comments and key order survive): the document and its
// top-level mapping, or an error naming the file.
func mappingDoc(name string, src []byte) (*yaml.Node, *yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s: not a YAML mapping", name)
	}
	return &doc, doc.Content[0], nil
}

// encodeDoc writes an edited tree back, indented as the examples are.
func encodeDoc(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
