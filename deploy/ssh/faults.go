package ssh

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// lossModulus is the resolution of random loss (1/10000), as in gauntlet-fault.
const lossModulus = 10000

// nftScript is one nft transaction that replaces our table: drop what comes
// from drop, lose a share of what goes to lossTo. With nothing to do it only
// removes the table ("table …" first makes the delete valid when absent).
func nftScript(drop []net.IP, loss float64, lossTo []net.IP) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\n", tableName, tableName)
	if len(drop) == 0 && (loss == 0 || len(lossTo) == 0) {
		return b.String()
	}
	fmt.Fprintf(&b, "table inet %s {\n", tableName)
	if len(drop) > 0 {
		b.WriteString("  chain input {\n    type filter hook input priority -10; policy accept;\n")
		for _, ip := range drop {
			fmt.Fprintf(&b, "    %s saddr %s drop\n", family(ip), ip)
		}
		b.WriteString("  }\n")
	}
	if loss > 0 && len(lossTo) > 0 {
		b.WriteString("  chain output {\n    type filter hook output priority -10; policy accept;\n")
		// numgen's values are 0..9999: "< 10000" is refused, so total loss
		// is a plain drop.
		random := fmt.Sprintf("numgen random mod %d < %d ", lossModulus, int(loss*lossModulus+0.5))
		if loss >= 1 {
			random = ""
		}
		for _, ip := range lossTo {
			fmt.Fprintf(&b, "    %s daddr %s %sdrop\n", family(ip), ip, random)
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func family(ip net.IP) string {
	if ip.To4() != nil {
		return "ip"
	}
	return "ip6"
}

// tcScript replaces our root qdisc on dev: a prio qdisc whose fourth band
// holds netem, and u32 filters sending packets to the peers there (replies
// to the harness's clients are not delayed). Without peers it only removes
// our qdisc. tc is the command, with sudo if needed.
func tcScript(tc, dev string, delay, jitter time.Duration, peers []net.IP) string {
	q := quote(dev)
	s := fmt.Sprintf("if %s qdisc show dev %s | grep -q 'qdisc [a-z_]* %s root'; then %s qdisc del dev %s root; fi\n",
		tc, q, qdiscHandle, tc, q)
	if len(peers) == 0 {
		return s
	}
	s += fmt.Sprintf("%s qdisc add dev %s root handle %s prio bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n", tc, q, qdiscHandle)
	s += fmt.Sprintf("%s qdisc add dev %s parent %s4 handle 6762: netem delay %dus %dus\n", tc, q, qdiscHandle,
		delay.Microseconds(), jitter.Microseconds())
	for _, ip := range peers {
		if ip.To4() != nil {
			s += fmt.Sprintf("%s filter add dev %s parent %s protocol ip prio 1 u32 match ip dst %s/32 flowid %s4\n", tc, q, qdiscHandle, ip, qdiscHandle)
		} else {
			s += fmt.Sprintf("%s filter add dev %s parent %s protocol ipv6 prio 2 u32 match ip6 dst %s/128 flowid %s4\n", tc, q, qdiscHandle, ip, qdiscHandle)
		}
	}
	return "set -e\n" + s
}
