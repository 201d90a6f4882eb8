package auth

import (
	"math"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key (a client IP, a username):
// each allows Burst attempts at once and refills one attempt every Every.
// It is safe for concurrent use and forgets keys whose bucket is full again,
// so its memory stays bounded by recent activity.
type Limiter struct {
	Burst int
	Every time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one attempt from key's bucket at time now. When the bucket is
// empty it returns false and how long until an attempt is available.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*bucket{}
	}
	l.forgetFull(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()/l.Every.Seconds())
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.Every))
	return false, wait
}

// Full reports whether key's bucket is full at time now (no attempt taken
// from it recently: a key that has not been failing).
func (l *Limiter) Full(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	return !ok || b.tokens+now.Sub(b.last).Seconds()/l.Every.Seconds() >= float64(l.Burst)
}

// Refund gives back one attempt taken from key's bucket: a login that
// turned out to be right costs nothing, so only failures are limited.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		b.tokens = math.Min(float64(l.Burst), b.tokens+1)
	}
}

// forgetFull drops buckets that have refilled completely, at most once per
// refill period: they behave exactly like absent ones.
func (l *Limiter) forgetFull(now time.Time) {
	if now.Sub(l.sweep) < l.Every {
		return
	}
	l.sweep = now
	full := time.Duration(l.Burst) * l.Every
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}
