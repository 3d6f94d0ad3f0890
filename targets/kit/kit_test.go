package kit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPeerListIsInIDOrder(t *testing.T) {
	assert.Equal(t, "n1=a:1,n2=b:2,n3=c:3", PeerList(map[string]string{"n3": "c:3", "n1": "a:1", "n2": "b:2"}))
	assert.Empty(t, PeerList(nil))
}
