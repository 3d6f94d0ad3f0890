//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tableName is the one nftables table we own; deleting it heals every
// partition and loss we made without touching anyone else's rules.
const tableName = "gauntlet"

// lossModulus is the resolution of random loss (1/10000).
const lossModulus = 10000

func apply(st state) error {
	if err := applyNft(st); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if err := applyNetem(st); err != nil {
		return fmt.Errorf("netem: %w", err)
	}
	return nil
}

// applyNft replaces our table in one netlink batch, so a change of partition
// never has a moment with no rules.
func applyNft(st state) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open netlink: %w", err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	exists := false
	for _, t := range tables {
		exists = exists || t.Name == tableName
	}
	if exists {
		c.DelTable(&nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4})
	}
	if len(st.Drop) == 0 && st.Loss == 0 {
		if !exists {
			return nil
		}
		return c.Flush()
	}
	t := c.AddTable(&nftables.Table{Name: tableName, Family: nftables.TableFamilyIPv4})
	if len(st.Drop) > 0 {
		in := c.AddChain(&nftables.Chain{
			Name: "input", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(-10),
		})
		for _, ip := range st.Drop {
			c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: []expr.Any{
				// ip saddr == ip
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.ParseIP(ip).To4()},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if st.Loss > 0 {
		out := c.AddChain(&nftables.Chain{
			Name: "output", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityRef(-10),
		})
		threshold := make([]byte, 4)
		binary.BigEndian.PutUint32(threshold, uint32(math.Round(st.Loss*lossModulus)))
		// numgen leaves a host-order number; cmp compares bytes, so convert
		// to network order first (what nft itself emits for "numgen … lt N").
		random := []expr.Any{
			&expr.Numgen{Register: 1, Modulus: lossModulus, Type: unix.NFT_NG_RANDOM},
			&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
			&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: threshold},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}
		targets := st.LossTo
		if len(targets) == 0 {
			targets = []string{""}
		}
		for _, ip := range targets {
			var exprs []expr.Any
			if ip != "" {
				exprs = append(exprs,
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net.ParseIP(ip).To4()})
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: append(exprs, random...)})
		}
	}
	return c.Flush()
}

// device finds the interface on the cluster network.
func device(name string) (netlink.Link, error) {
	if name != "" {
		l, err := netlink.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("link %s: %w", name, err)
		}
		return l, nil
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Attrs().Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
		if err == nil && len(addrs) > 0 {
			return l, nil
		}
	}
	return nil, errors.New("no non-loopback interface with an IPv4 address")
}

var (
	rootHandle  = netlink.MakeHandle(0x6761, 0) // "ga"
	netemHandle = netlink.MakeHandle(0x6762, 0)
)

// applyNetem puts a netem qdisc at the root of dev, or, when DelayTo names
// destinations, under band 4 of a prio qdisc with u32 filters on those
// destinations, so that replies to the harness are not delayed.
func applyNetem(st state) error {
	link, err := device(st.Dev)
	if err != nil {
		return err
	}
	if err := clearQdisc(link); err != nil {
		return err
	}
	if st.Delay == 0 {
		return nil
	}
	attrs := netlink.NetemQdiscAttrs{
		Latency: uint32(st.Delay.Microseconds()),
		Jitter:  uint32(st.Jitter.Microseconds()),
	}
	idx := link.Attrs().Index
	if len(st.DelayTo) == 0 {
		q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: idx, Parent: netlink.HANDLE_ROOT, Handle: rootHandle}, attrs)
		if err := netlink.QdiscReplace(q); err != nil {
			return fmt.Errorf("add netem: %w", err)
		}
		return nil
	}
	prio := netlink.NewPrio(netlink.QdiscAttrs{LinkIndex: idx, Parent: netlink.HANDLE_ROOT, Handle: rootHandle})
	prio.Bands = 4 // bands 1-3 as usual (priomap only uses 0-2), band 4 for delayed traffic
	if err := netlink.QdiscReplace(prio); err != nil {
		return fmt.Errorf("add prio: %w", err)
	}
	band := netlink.MakeHandle(0x6761, 4)
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: idx, Parent: band, Handle: netemHandle}, attrs)
	if err := netlink.QdiscReplace(q); err != nil {
		return fmt.Errorf("add netem: %w", err)
	}
	for _, ip := range st.DelayTo {
		f := &netlink.U32{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: idx, Parent: rootHandle, Priority: 1, Protocol: unix.ETH_P_IP},
			ClassId:     band,
			Sel: &netlink.TcU32Sel{
				Flags: netlink.TC_U32_TERMINAL,
				Keys: []netlink.TcU32Key{{
					Mask: 0xffffffff, Val: binary.BigEndian.Uint32(net.ParseIP(ip).To4()), Off: 16,
				}},
			},
		}
		if err := netlink.FilterAdd(f); err != nil {
			return fmt.Errorf("add filter for %s: %w", ip, err)
		}
	}
	return nil
}

// clearQdisc removes our root qdisc (and with it, its children and filters).
func clearQdisc(link netlink.Link) error {
	qs, err := netlink.QdiscList(link)
	if err != nil {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qs {
		if q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == rootHandle {
			if err := netlink.QdiscDel(q); err != nil {
				return fmt.Errorf("delete qdisc: %w", err)
			}
		}
	}
	return nil
}

type probeResult struct {
	Nftables      bool   `json:"nftables"`
	NftablesError string `json:"nftables_error,omitempty"`
	Netem         bool   `json:"netem"`
	NetemError    string `json:"netem_error,omitempty"`
	Device        string `json:"device,omitempty"` // the interface faults apply to
	DeviceError   string `json:"device_error,omitempty"`
}

// probe tries both mechanisms for real: an empty table of ours, and a netem
// qdisc on loopback (where it disturbs nothing), each removed at once.
func probe(dev string) (probeResult, error) {
	var p probeResult
	if err := probeNft(); err != nil {
		p.NftablesError = err.Error()
	} else {
		p.Nftables = true
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return p, fmt.Errorf("link lo: %w", err)
	}
	q := netlink.NewNetem(netlink.QdiscAttrs{LinkIndex: lo.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: rootHandle},
		netlink.NetemQdiscAttrs{Latency: 1})
	if err := netlink.QdiscAdd(q); err != nil {
		p.NetemError = err.Error()
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			p.NetemError += " (the kernel has no sch_netem)"
		}
	} else {
		p.Netem = true
		if err := netlink.QdiscDel(q); err != nil {
			return p, fmt.Errorf("remove probe qdisc: %w", err)
		}
	}
	if l, err := device(dev); err != nil {
		p.DeviceError = err.Error()
	} else {
		p.Device = l.Attrs().Name
	}
	return p, nil
}

func probeNft() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Name: tableName + "_probe", Family: nftables.TableFamilyIPv4})
	if err := c.Flush(); err != nil {
		return err
	}
	c.DelTable(t)
	return c.Flush()
}
