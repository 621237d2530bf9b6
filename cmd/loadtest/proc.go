package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// rssKB reads a process's resident set size from /proc/PID/status (VmRSS, in kB). Linux only.
func rssKB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// medianRSS samples rssKB n times, every interval, and returns the median.
func medianRSS(ctx context.Context, pid, n int, interval time.Duration) (int64, error) {
	var got []int64
	for i := range n {
		if i > 0 {
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(interval):
			}
		}
		kb, err := rssKB(pid)
		if err != nil {
			return 0, err
		}
		got = append(got, kb)
	}
	slices.Sort(got)
	return got[len(got)/2], nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat CPU times: 100 on every Linux architecture Go runs on.
const clockTicks = 100

// cpuTime reads the user+system CPU time a process has used from /proc/PID/stat. Linux only.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 { // fields 3… ; utime is field 14, stime 15
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
