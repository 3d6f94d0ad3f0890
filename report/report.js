// The report's only script: the copy button, plot clicks and a windowed
// timeline. Everything from the history is put in the page with
// textContent, never innerHTML, so keys and values stay text.
(function () {
  'use strict'
  var t0 = performance.now()
  var D = JSON.parse(document.getElementById('data').textContent)
  // Ends and completion indices are stored as differences (shorter JSON).
  D.e = new Float64Array(D.s.length)
  for (var di = 0; di < D.s.length; di++) {
    D.e[di] = D.s[di] + D.d[di]
    D.j[di] = D.j[di] > 0 ? D.i[di] + D.j[di] : -1
  }

  var copy = document.getElementById('copy-command')
  if (copy) {
    copy.addEventListener('click', function () {
      var code = document.getElementById('command')
      var sel = window.getSelection()
      var range = document.createRange()
      range.selectNodeContents(code)
      sel.removeAllRanges()
      sel.addRange(range)
      var done = function () { copy.textContent = 'copied' }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code.textContent).then(done, function () {
          copy.textContent = 'selected: press Ctrl-C'
        })
      } else {
        copy.textContent = 'selected: press Ctrl-C'
      }
    })
  }

  // Porcupine measures its text while it lays out, which gives nonsense in
  // an iframe that is off screen (Chromium does not render it); so each view
  // is loaded when it first scrolls into sight.
  var views = document.querySelectorAll('iframe.porcupine[data-srcdoc]')
  var loadView = function (f) { if (!f.srcdoc) f.srcdoc = f.dataset.srcdoc }
  if ('IntersectionObserver' in window) {
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) { loadView(e.target); io.unobserve(e.target) }
      })
    })
    views.forEach(function (f) { io.observe(f) })
  } else {
    views.forEach(loadView)
  }

  // ---- timeline -------------------------------------------------------
  var tl = document.getElementById('tl')
  var inner = document.getElementById('tl-inner')
  var detail = document.getElementById('tl-detail')
  var status = document.getElementById('tl-status')
  var N = D.p.length
  var C = D.lanes
  var COLW = 124
  var GUT = 74
  var HEAD = 26
  var MINH = 3 // px: shorter ops are merged into clusters
  var CLUSTER = 7 // px: ops shorter than this may be clustered
  var MAXCL = 24 // px: the longest cluster, so a zoomed-out lane still shows when things failed
  var OUTCOLOR = ['#2b9348', '#d62828', '#f59e0b', '#7c3aed']
  var tmax = Math.max(D.tmax, 1)
  var colStart = new Int32Array(C + 1)
  for (var i = 0; i < N; i++) {
    if (i === 0 || D.p[i] !== D.p[i - 1]) colStart[D.p[i]] = i
  }
  colStart[C] = N
  var outcomes = ['ok', 'fail', 'info', 'no completion']
  var selected = -1
  var keyFilter = ''
  var scheduled = false

  function fitScale () { return Math.max((tl.clientHeight - HEAD - 12) / tmax, 1e-9) }
  function maxScale () { return 8e6 / tmax } // keep the page under browsers' element height limits
  function clampScale (s) { return Math.min(Math.max(s, fitScale()), Math.max(maxScale(), fitScale())) }

  // Default zoom: the median ok op about 22 px tall, so labels are readable.
  var durs = []
  for (var r = 0; r < N && durs.length < 5000; r += Math.max(1, Math.floor(N / 5000))) {
    if (D.o[r] === 0) durs.push(D.e[r] - D.s[r])
  }
  durs.sort(function (a, b) { return a - b })
  var scale = clampScale(durs.length ? 22 / Math.max(durs[durs.length >> 1], 1) : 0)

  function y (us) { return HEAD + us * scale }
  function fmtS (us) { return (us / 1e6).toFixed(us * scale > 1e5 ? 3 : 2) + ' s' }

  function label (r) {
    var s = D.fs[D.f[r]] || ''
    if (D.k[r] >= 0) s += ' ' + D.keys[D.k[r]]
    var v = D.v[r]
    var from = D.from ? D.from[r] : undefined
    if (from !== undefined) s += ' ' + from + '→' + (v === null ? 'nil' : v)
    else if (D.fs[D.f[r]] === 'read') { if (D.o[r] === 0) s += ' → ' + (v === null ? 'nil' : v) } else if (v !== null) s += ' ← ' + v
    return s
  }

  function setSize () {
    inner.style.height = (y(tmax) + 24) + 'px'
    inner.style.width = (GUT + C * COLW + 8) + 'px'
  }

  function niceStep (raw) {
    var mag = Math.pow(10, Math.floor(Math.log10(raw)))
    var steps = [1, 2, 5, 10]
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag
    return 10 * mag
  }

  function div (cls, left, top, width, height, text) {
    var d = document.createElement('div')
    d.className = cls
    d.style.left = left + 'px'
    d.style.top = top + 'px'
    if (width !== null) d.style.width = width + 'px'
    if (height !== null) d.style.height = height + 'px'
    if (text) d.textContent = text
    return d
  }

  // firstVisible finds the first row of column c whose end is at or after
  // t: ends of one process never decrease, since it has one op at a time.
  function firstVisible (c, t) {
    var lo = colStart[c]; var hi = colStart[c + 1]
    while (lo < hi) {
      var mid = (lo + hi) >> 1
      if (D.e[mid] < t) lo = mid + 1; else hi = mid
    }
    return lo
  }

  function render () {
    scheduled = false
    var top = tl.scrollTop; var left = tl.scrollLeft
    var h = tl.clientHeight; var w = tl.clientWidth
    var t0 = (top - HEAD) / scale; var t1 = (top + h) / scale
    var c0 = Math.max(0, Math.floor((left - GUT) / COLW))
    var c1 = Math.min(C - 1, Math.floor((left + w - GUT) / COLW))
    var frag = document.createDocumentFragment()
    var fullW = GUT + C * COLW

    var step = niceStep(70 / scale)
    for (var t = Math.max(0, Math.floor(t0 / step) * step); t <= Math.min(t1, tmax) + step; t += step) {
      frag.appendChild(div('tick', 0, y(t), fullW, null, ''))
      frag.appendChild(div('ticklabel', left + 2, y(t) - 7, null, null, (t / 1e6).toFixed(step >= 1e5 ? 1 : step >= 1e4 ? 2 : 3) + ' s'))
    }
    for (var fi = 0; fi < (D.faults || []).length; fi++) {
      var f = D.faults[fi]
      if (f.end < t0 || f.start > t1) continue
      var band = div('band', GUT, y(f.start), fullW - GUT, Math.max(y(f.end) - y(f.start), 2), '')
      band.style.background = f.color
      frag.appendChild(band)
      var lab = div('bandlabel', left + GUT + 4, Math.max(y(f.start), top + HEAD + 2), null, null,
        f.label + (f.nodes ? ' [' + f.nodes + ']' : '') + ' ' + fmtS(f.start) + '–' + fmtS(f.end))
      lab.style.background = f.color
      lab.title = lab.textContent
      frag.appendChild(lab)
    }
    if (D.viol !== null && D.viol >= t0 && D.viol <= t1) {
      frag.appendChild(div('viol', GUT, y(D.viol), fullW - GUT, null, ''))
      var vl = div('ticklabel', left + GUT + 4, y(D.viol) + 2, null, null, 'first violation ' + fmtS(D.viol))
      vl.style.color = '#d62828'
      frag.appendChild(vl)
    }

    var shown = 0
    for (var c = c0; c <= c1; c++) {
      var x = GUT + c * COLW + 2
      var hd = div('head', x - 2, top, COLW, null, 'worker lane ' + c)
      frag.appendChild(hd)
      var end = colStart[c + 1]
      for (var r = firstVisible(c, t0 - MINH / scale); r < end && D.s[r] <= t1; r++) {
        var ya = y(D.s[r]); var yb = Math.max(y(D.e[r]), ya + MINH)
        if (yb - ya < CLUSTER && r + 1 < end) {
          // Merge a run of short ops that would overlap on screen, up to
          // MAXCL px, and draw the run as a bar split by outcome share.
          var r2 = r; var cnt = [0, 0, 0, 0]
          cnt[D.o[r]]++
          while (r2 + 1 < end && yb - ya < MAXCL && y(D.s[r2 + 1]) < yb + 1 && y(D.e[r2 + 1]) - y(D.s[r2 + 1]) < CLUSTER) {
            r2++
            yb = Math.max(yb, y(D.e[r2]), y(D.s[r2]) + MINH)
            cnt[D.o[r2]]++
          }
          if (r2 > r) {
            var cl = div('op cl', x, ya, COLW - 6, yb - ya, '')
            cl.dataset.r0 = r
            cl.dataset.r1 = r2
            var total = r2 - r + 1; var acc = 0; var stops = []
            for (var k = 0; k < 4; k++) {
              if (!cnt[k]) continue
              var from = acc * 100 / total; acc += cnt[k]
              stops.push(OUTCOLOR[k] + ' ' + from.toFixed(1) + '% ' + (acc * 100 / total).toFixed(1) + '%')
            }
            cl.style.background = 'linear-gradient(to right, ' + stops.join(', ') + ')'
            cl.title = total + ' ops (' + cnt[0] + ' ok, ' + cnt[1] + ' fail, ' + cnt[2] + ' info, ' + cnt[3] + ' no completion) ' +
              fmtS(D.s[r]) + '–' + fmtS(D.e[r2]) + ': click to zoom in'
            frag.appendChild(cl)
            shown++
            r = r2
            continue
          }
        }
        var cls = 'op o' + D.o[r]
        if (r === selected) cls += ' sel'
        if (keyFilter) cls += (D.k[r] >= 0 && D.keys[D.k[r]] === keyFilter) ? ' hi' : ' dim'
        var el = div(cls, x, ya, COLW - 6, yb - ya, yb - ya >= 13 ? label(r) : '')
        el.dataset.r = r
        el.title = 'process ' + D.q[r]
        frag.appendChild(el)
        if (r === colStart[c] || D.q[r] !== D.q[r - 1]) {
          // A new process starts in this lane (the previous one was retired).
          frag.appendChild(div('proc', x + COLW - 6, ya, null, null, 'p' + D.q[r]))
        }
        shown++
      }
    }
    inner.textContent = ''
    inner.appendChild(frag)
    status.textContent = N === 0 ? 'no client ops in the history'
      : fmtS(Math.max(t0, 0)) + ' – ' + fmtS(Math.min(t1, tmax)) + ' · lanes ' + c0 + '–' + c1 + ' of ' + C + ' · ' + shown + ' bars drawn of ' + N + ' ops'
  }

  function schedule () {
    if (!scheduled) { scheduled = true; window.requestAnimationFrame(render) }
  }

  function zoomAt (newScale, tCentre) {
    var h = tl.clientHeight
    scale = clampScale(newScale)
    setSize()
    tl.scrollTop = Math.max(0, y(tCentre) - h / 2)
    render()
  }
  function centre () { return (tl.scrollTop + tl.clientHeight / 2 - HEAD) / scale }

  function show (r) {
    selected = r
    var lines = []
    lines.push('op #' + D.i[r] + (D.j[r] >= 0 ? ' (completion #' + D.j[r] + ')' : ' (no completion in the history)') +
      ' · process ' + D.q[r] + (D.n[r] >= 0 ? ' · node ' + D.nodes[D.n[r]] : ''))
    lines.push(label(r))
    lines.push('outcome ' + outcomes[D.o[r]] + ' · invoked ' + fmtS(D.s[r]) + ' · ' +
      (D.j[r] >= 0 ? 'completed ' + fmtS(D.e[r]) + ' · latency ' + ((D.e[r] - D.s[r]) / 1000).toFixed(2) + ' ms' : 'never completed'))
    var err = D.err ? D.err[r] : undefined
    if (err !== undefined) lines.push('error: ' + D.errs[err])
    detail.textContent = lines.join('\n')
    render()
  }

  function jumpToTime (us, toSection) {
    if (toSection) document.getElementById('timeline').scrollIntoView()
    tl.scrollTop = Math.max(0, y(us) - tl.clientHeight / 3)
    render()
  }

  var byIndex = null
  function jumpToOp (idx) {
    if (byIndex === null) {
      byIndex = new Map()
      for (var r = 0; r < N; r++) {
        byIndex.set(D.i[r], r)
        if (D.j[r] >= 0) byIndex.set(D.j[r], r)
      }
    }
    var r = byIndex.get(idx)
    document.getElementById('timeline').scrollIntoView()
    if (r === undefined) {
      detail.textContent = 'op #' + idx + ' is not a client op of this history'
      return
    }
    var dur = Math.max(D.e[r] - D.s[r], 1)
    if (dur * scale < 20) { scale = clampScale(20 / dur); setSize() }
    tl.scrollTop = Math.max(0, y(D.s[r]) - tl.clientHeight / 3)
    tl.scrollLeft = Math.max(0, GUT + D.p[r] * COLW - tl.clientWidth / 3)
    // Show the op among the others of its key: the usual next question.
    if (D.k[r] >= 0) {
      keyFilter = D.keys[D.k[r]]
      document.getElementById('tl-key').value = keyFilter
    }
    show(r)
  }

  function onHash () {
    var m = /^#op-(\d+)$/.exec(window.location.hash)
    if (m) { jumpToOp(parseInt(m[1], 10)); return }
    m = /^#t-(\d+)$/.exec(window.location.hash)
    if (m) jumpToTime(parseInt(m[1], 10) / 1000, true)
  }

  tl.addEventListener('scroll', schedule)
  window.addEventListener('resize', schedule)
  window.addEventListener('hashchange', onHash)
  inner.addEventListener('click', function (e) {
    var el = e.target.closest('.op')
    if (!el) return
    if (el.dataset.r0 !== undefined) {
      var r0 = +el.dataset.r0; var r1 = +el.dataset.r1
      var span = Math.max(D.e[r1] - D.s[r0], 1)
      zoomAt(Math.max(scale * 4, tl.clientHeight / 2 / span), (D.s[r0] + D.e[r1]) / 2)
      return
    }
    show(+el.dataset.r)
  })
  document.getElementById('tl-zoom-in').addEventListener('click', function () { zoomAt(scale * 2, centre()) })
  document.getElementById('tl-zoom-out').addEventListener('click', function () { zoomAt(scale / 2, centre()) })
  document.getElementById('tl-fit').addEventListener('click', function () { zoomAt(fitScale(), tmax / 2) })
  document.getElementById('tl-goto').addEventListener('change', function (e) {
    var v = parseFloat(e.target.value)
    if (!isNaN(v)) jumpToTime(v * 1e6, false)
  })
  document.getElementById('tl-key').addEventListener('input', function (e) {
    keyFilter = e.target.value
    render()
  })
  var plots = document.querySelectorAll('svg.plot')
  for (var pi = 0; pi < plots.length; pi++) {
    plots[pi].addEventListener('click', function (e) {
      var svg = e.currentTarget
      var rect = svg.getBoundingClientRect()
      var vb = svg.viewBox.baseVal
      var sx = (e.clientX - rect.left) * vb.width / rect.width
      var x0 = +svg.dataset.x0; var x1 = +svg.dataset.x1
      var t = Math.min(Math.max((sx - x0) / (x1 - x0), 0), 1) * +svg.dataset.tmax
      jumpToTime(t * 1e6, true)
    })
  }

  var t1 = performance.now()
  setSize()
  render()
  if (window.location.hash) onHash()
  // For the tests' measurements: when the script started, and how long
  // decoding the data and the first drawing took.
  window.gauntletTiming = { start: t0, decode: t1 - t0, draw: performance.now() - t1 }
})()
