package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stagelink/stagelink/deploy/nginxtest"
)

// hubRef is a hub whose memory and CPU the tool measures: its own address (not nginx's) and process.
type hubRef struct {
	url string
	pid int
}

// cluster is -hubs hubs sharing one Redis behind nginx.
type cluster struct {
	site  string // nginx
	hubs  []launched
	nginx *nginxtest.Nginx
	dir   string
}

// launchCluster starts cfg.hubs hubs on cfg.redis, under a key prefix of their own, in front of them
// nginx with the production config (deploy/nginx/stagelink.conf). The site is served over plain HTTP,
// since TLS would measure nginx rather than the hubs, and the per-address connection limit is raised
// to the viewers' count, since every viewer of the tool comes from 127.0.0.1.
func launchCluster(ctx context.Context, cfg config, bin, token string, stderr io.Writer, log *slog.Logger) (*cluster, error) {
	c := &cluster{}
	prefix := "stagelink-loadtest-" + strings.ToLower(rand.Text()[:8]) + ":"
	var addrs []string
	for range cfg.hubs {
		h, err := launchHub(ctx, cfg, bin, token, stderr, log, "-redis", string(cfg.redis), "-redis-prefix", prefix, "-trusted-proxies", "127.0.0.1")
		if err != nil {
			c.stop()
			return nil, err
		}
		c.hubs = append(c.hubs, h)
		addrs = append(addrs, strings.TrimPrefix(h.url, "http://"))
	}
	dir, err := os.MkdirTemp("", "loadtest-nginx-")
	if err != nil {
		c.stop()
		return nil, err
	}
	c.dir = dir
	if c.nginx, err = nginxtest.Run(dir, nginxtest.Options{Hubs: addrs, Plain: true, MaxConnsPerAddr: cfg.viewers + 100}); err != nil {
		c.stop()
		return nil, err
	}
	c.site = c.nginx.URL
	log.Info("nginx in front of the hubs", "url", c.site, "hubs", len(c.hubs))
	return c, nil
}

func (c *cluster) refs() []hubRef {
	var out []hubRef
	for _, h := range c.hubs {
		out = append(out, hubRef{h.url, h.pid})
	}
	return out
}

// stop stops nginx, then the hubs.
func (c *cluster) stop() {
	if c.nginx != nil {
		c.nginx.Close()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
	for _, h := range c.hubs {
		h.stop()
	}
}

// hubViewers reads the viewers connected to the hub at url from its /metrics (stagelink_viewers).
func hubViewers(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("hub metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("hub metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, fmt.Errorf("hub metrics: %w", err)
	}
	f, ok := families["stagelink_viewers"]
	if !ok || len(f.GetMetric()) != 1 {
		return 0, fmt.Errorf("hub metrics: no stagelink_viewers")
	}
	return int(f.GetMetric()[0].GetGauge().GetValue()), nil
}
