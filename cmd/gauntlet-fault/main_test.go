package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBadInput(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"apply", "--drop", "not-an-ip"},
		{"apply", "--loss", "1.5"},
		{"apply", "--loss-to", "::1"},
		{"heal", "--drop", "10.0.0.1"}, // heal takes no fault flags
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 64, run(args, &out, &errb), "%v", args)
		assert.NotEmpty(t, errb.String(), "%v says why", args)
	}
}

func TestParseIPs(t *testing.T) {
	ips, err := parseIPs("10.0.0.2, 10.0.0.3")
	require.NoError(t, err)
	assert.Equal(t, []string{"10.0.0.2", "10.0.0.3"}, ips)
	ips, err = parseIPs("")
	require.NoError(t, err)
	assert.Nil(t, ips)
}

func TestValidate(t *testing.T) {
	assert.NoError(t, state{Drop: []string{"10.0.0.2"}, Loss: 0.5}.validate())
	assert.Error(t, state{Loss: 2}.validate())
	assert.Error(t, state{LossTo: []string{"nope"}}.validate())
	assert.Error(t, state{Delay: -1}.validate())
}
