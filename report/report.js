// The report's only script: the copy button, plot clicks, the porcupine
// views and a windowed timeline. Everything from the history is put in the
// page with textContent, never innerHTML, so keys and values stay text.
(function () {
  'use strict'
  var t0 = performance.now()
  var D = JSON.parse(document.getElementById('data').textContent)

  // ---- packed data ----------------------------------------------------
  // Bulky parts are gzip + base64 (pack.go); the browser inflates them.
  function unbase64 (b64) {
    var bin = atob(b64.replace(/-/g, '+').replace(/_/g, '/')) // base64url
    var out = new Uint8Array(bin.length)
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
    return out
  }
  function inflate (b64) {
    if (typeof DecompressionStream === 'undefined') {
      return Promise.reject(new Error('this browser cannot inflate the report\'s data (no DecompressionStream): open it in a current Chromium, Firefox or Safari'))
    }
    var stream = new Blob([unbase64(b64)]).stream().pipeThrough(new DecompressionStream('gzip'))
    return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b) })
  }
  var utf8 = new TextDecoder()

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

  // An anomaly's window shows the ops nearest the ones it names; the
  // button unfolds the rest (and folds them again).
  document.querySelectorAll('button.unfold').forEach(function (b) {
    var label = b.textContent
    b.addEventListener('click', function () {
      var t = b.closest('.anomaly').querySelector('table.window')
      t.classList.toggle('folded')
      b.textContent = t.classList.contains('folded') ? label : 'fold the ' + b.dataset.more + ' farther ops'
    })
  })

  // Porcupine measures its text while it lays out, which gives nonsense in
  // an iframe that is off screen (Chromium does not render it); so each view
  // is inflated and loaded when it first scrolls into sight.
  var views = document.querySelectorAll('iframe.porcupine[data-srcdoc-gz]')
  var loadView = function (f) {
    if (f.dataset.loading) return
    f.dataset.loading = '1'
    inflate(f.dataset.srcdocGz).then(function (b) { f.srcdoc = utf8.decode(b) }, function (err) {
      f.srcdoc = '<p>' + String(err).replace(/[<&]/g, '') + '</p>'
    })
  }
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

  // Packed parts of closed <details> (checker details, the one-line
  // anomalies) are inflated when first opened.
  function fillMore (tbody, rows) {
    rows.forEach(function (a) {
      var tr = document.createElement('tr')
      tr.id = 'anomaly-' + a[0]
      for (var i = 0; i < 5; i++) {
        var td = document.createElement('td')
        td.textContent = a[i]
        tr.appendChild(td)
      }
      var links = document.createElement('td')
      var link = function (href, text) {
        var el = document.createElement('a')
        el.href = href
        el.textContent = text
        links.appendChild(el)
      }
      if (a[5] >= 0) link('#op-' + a[5], 'timeline')
      if (a[6]) {
        if (a[5] >= 0) links.appendChild(document.createTextNode(' · '))
        link('#' + a[6], 'view')
      }
      tr.appendChild(links)
      tbody.appendChild(tr)
    })
  }
  document.querySelectorAll('details').forEach(function (d) {
    var els = d.querySelectorAll('[data-gz]')
    if (!els.length) return
    d.addEventListener('toggle', function () {
      if (!d.open) return
      els.forEach(function (el) {
        if (el.dataset.done) return
        el.dataset.done = '1'
        inflate(el.dataset.gz).then(function (b) {
          var text = utf8.decode(b)
          if (el.tagName === 'TBODY') fillMore(el, JSON.parse(text)); else el.textContent = text
        }, function (err) { el.textContent = 'cannot inflate: ' + err.message })
      })
    })
  })

  // ---- timeline -------------------------------------------------------
  // The ops come in chunks (timeline.go): chunk 0 holds the long ops and is
  // always loaded; the others are inflated when the visible window first
  // reaches them. A drawn op is named by its chunk and row.
  var tl = document.getElementById('tl')
  var inner = document.getElementById('tl-inner')
  var detail = document.getElementById('tl-detail')
  var status = document.getElementById('tl-status')
  var N = D.n
  var C = D.lanes
  var COLW = 124
  var GUT = 74
  var HEAD = 26
  var MINH = 3 // px: shorter ops are merged into clusters
  var CLUSTER = 7 // px: ops shorter than this may be clustered
  var MAXCL = 24 // px: the longest cluster, so a zoomed-out lane still shows when things failed
  var OUTCOLOR = ['#2b9348', '#d62828', '#f59e0b', '#7c3aed']
  var tmax = Math.max(D.tmax, 1)
  var outcomes = ['ok', 'fail', 'info', 'no completion']
  var T = null // string tables: fs, keys, nodes, errs
  var chunks = D.chunks.map(function (m) { return { meta: m, data: null, loading: null, failed: null } })
  var selC = -1; var selR = -1
  var keyFilter = ''; var keyIdx = -1
  var scheduled = false

  // decodeChunk reads encodeChunk's columns (timeline.go).
  function decodeChunk (b, n) {
    var pos = 0
    function u () {
      var x = 0; var m = 1; var c
      do { c = b[pos++]; x += (c & 127) * m; m *= 128 } while (c & 128)
      return x
    }
    function z () { var x = u(); return x % 2 ? -(x + 1) / 2 : x / 2 }
    function str () {
      var t = u()
      if (t === 0) return null
      if (t > 1) return String(t - 2)
      var len = u(); var s = utf8.decode(b.subarray(pos, pos + len))
      pos += len
      return s
    }
    var ch = { n: n, colStart: new Int32Array(C + 1), lane: new Int32Array(n) }
    var acc = 0; var r; var c; var prev
    for (c = 0; c < C; c++) {
      ch.colStart[c] = acc
      var cnt = u()
      for (r = acc; r < acc + cnt; r++) ch.lane[r] = c
      acc += cnt
    }
    ch.colStart[C] = acc
    function col (Type, read) { var a = new Type(n); for (var r = 0; r < n; r++) a[r] = read(r); return a }
    prev = 0
    ch.q = col(Float64Array, function () { prev += z(); return prev })
    // Times and indices are gaps after the lane's previous op (its end, its
    // completion), so they are summed once the columns they need are read.
    var sGap = col(Float64Array, z)
    var dur = col(Float64Array, u)
    ch.o = col(Uint8Array, u)
    var minus1 = function () { return u() - 1 }
    ch.f = col(Int32Array, minus1)
    ch.k = col(Int32Array, minus1)
    ch.nd = col(Int32Array, minus1)
    var iGap = col(Float64Array, z)
    var jOff = col(Float64Array, u)
    ch.s = new Float64Array(n); ch.e = new Float64Array(n)
    ch.i = new Float64Array(n); ch.j = new Float64Array(n)
    for (r = 0; r < n; r++) {
      var first = r === ch.colStart[ch.lane[r]]
      ch.s[r] = sGap[r] + (first ? 0 : ch.e[r - 1])
      ch.e[r] = ch.s[r] + dur[r]
      ch.i[r] = iGap[r] + (first ? 0 : ch.j[r - 1] >= 0 ? ch.j[r - 1] : ch.i[r - 1])
      ch.j[r] = jOff[r] > 0 ? ch.i[r] + jOff[r] : -1
    }
    ch.tag = col(Uint8Array, u)
    ch.err = col(Int32Array, minus1)
    ch.v = []; ch.from = []
    for (r = 0; r < n; r++) ch.v.push(str())
    for (r = 0; r < n; r++) ch.from.push(str())
    return ch
  }

  function load (ci) {
    var c = chunks[ci]
    if (!c.loading) {
      c.loading = inflate(c.meta.z).then(function (b) { c.data = decodeChunk(b, c.meta.n); c.meta.z = '' }, function (err) {
        c.failed = err
        status.textContent = 'cannot read the timeline data: ' + err.message
      })
    }
    return c.loading
  }

  function fitScale () { return Math.max((tl.clientHeight - HEAD - 12) / tmax, 1e-9) }
  function maxScale () { return 8e6 / tmax } // keep the page under browsers' element height limits
  function clampScale (s) { return Math.min(Math.max(s, fitScale()), Math.max(maxScale(), fitScale())) }

  // Default zoom: the median ok op about 22 px tall, so labels are readable.
  var scale = clampScale(D.medok > 0 ? 22 / D.medok : 0)

  function y (us) { return HEAD + us * scale }
  function fmtS (us) { return (us / 1e6).toFixed(us * scale > 1e5 ? 3 : 2) + ' s' }

  function label (ch, r) {
    var s = T.fs[ch.f[r]] || ''
    if (ch.k[r] >= 0) s += ' ' + T.keys[ch.k[r]]
    var v = ch.v[r]
    var from = ch.from[r]
    if (from !== null) s += ' ' + from + '→' + (v === null ? 'nil' : v)
    else if (T.fs[ch.f[r]] === 'read') { if (ch.o[r] === 0) s += ' → ' + (v === null ? 'nil' : v) } else if (v !== null) s += ' ← ' + v
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

  // firstVisible finds the first row of lane c in chunk ch whose end is at
  // or after t: ends in a lane never decrease, since its processes follow
  // one another and each has one op at a time.
  function firstVisible (ch, c, t) {
    var lo = ch.colStart[c]; var hi = ch.colStart[c + 1]
    while (lo < hi) {
      var mid = (lo + hi) >> 1
      if (ch.e[mid] < t) lo = mid + 1; else hi = mid
    }
    return lo
  }

  // needed lists the chunks that hold ops in [t0, t1].
  function needed (t0, t1) {
    var out = []
    for (var ci = 0; ci < chunks.length; ci++) {
      var m = chunks[ci].meta
      if (m.n > 0 && !chunks[ci].failed && (ci === 0 || (m.t0 <= t1 && m.t1 >= t0))) out.push(ci)
    }
    return out
  }

  function drawBackground (frag, t0, t1, top, left, fullW) {
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
  }

  // cluster merges a run of short ops from row r that would overlap on
  // screen, up to MAXCL px, into one bar split by outcome share; it
  // returns the last row merged (r itself when there is nothing to merge).
  function cluster (frag, ch, ci, r, end, x) {
    var ya = y(ch.s[r]); var yb = Math.max(y(ch.e[r]), ya + MINH)
    if (yb - ya >= CLUSTER || r + 1 >= end) return r
    var r2 = r; var cnt = [0, 0, 0, 0]
    cnt[ch.o[r]]++
    while (r2 + 1 < end && yb - ya < MAXCL && y(ch.s[r2 + 1]) < yb + 1 && y(ch.e[r2 + 1]) - y(ch.s[r2 + 1]) < CLUSTER) {
      r2++
      yb = Math.max(yb, y(ch.e[r2]), y(ch.s[r2]) + MINH)
      cnt[ch.o[r2]]++
    }
    if (r2 === r) return r
    var cl = div('op cl', x, ya, COLW - 6, yb - ya, '')
    cl.dataset.c = ci
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
      fmtS(ch.s[r]) + '–' + fmtS(ch.e[r2]) + ': click to zoom in'
    frag.appendChild(cl)
    return r2
  }

  function drawOp (frag, ch, ci, r, x) {
    var ya = y(ch.s[r]); var yb = Math.max(y(ch.e[r]), ya + MINH)
    var cls = 'op o' + ch.o[r]
    if (ci === selC && r === selR) cls += ' sel'
    if (keyFilter) cls += (ch.k[r] >= 0 && ch.k[r] === keyIdx) ? ' hi' : ' dim'
    var el = div(cls, x, ya, COLW - 6, yb - ya, yb - ya >= 13 ? label(ch, r) : '')
    el.dataset.c = ci
    el.dataset.r = r
    el.title = 'process ' + ch.q[r]
    frag.appendChild(el)
    // A new process takes over this lane (the previous one was retired).
    if (ch.tag[r]) frag.appendChild(div('proc', x + COLW - 6, ya, null, null, 'p' + ch.q[r]))
  }

  var firstDrawn = null
  function render () {
    scheduled = false
    if (!T) return
    var top = tl.scrollTop; var left = tl.scrollLeft
    var h = tl.clientHeight; var w = tl.clientWidth
    var t0 = (top - HEAD) / scale; var t1 = (top + h) / scale
    var cis = needed(t0 - MINH / scale, t1)
    var missing = cis.filter(function (ci) { return !chunks[ci].data })
    if (missing.length) {
      // Draw once they are inflated; the old drawing stays meanwhile.
      Promise.all(missing.map(load)).then(schedule)
      return
    }
    var c0 = Math.max(0, Math.floor((left - GUT) / COLW))
    var c1 = Math.min(C - 1, Math.floor((left + w - GUT) / COLW))
    var frag = document.createDocumentFragment()
    var fullW = GUT + C * COLW
    drawBackground(frag, t0, t1, top, left, fullW)
    var shown = 0
    for (var c = c0; c <= c1; c++) {
      var x = GUT + c * COLW + 2
      frag.appendChild(div('head', x - 2, top, COLW, null, 'worker lane ' + c))
      for (var k = 0; k < cis.length; k++) {
        var ci = cis[k]; var ch = chunks[ci].data
        var end = ch.colStart[c + 1]
        for (var r = firstVisible(ch, c, t0 - MINH / scale); r < end && ch.s[r] <= t1; r++) {
          var r2 = cluster(frag, ch, ci, r, end, x)
          if (r2 === r) drawOp(frag, ch, ci, r, x)
          r = r2
          shown++
        }
      }
    }
    inner.textContent = ''
    inner.appendChild(frag)
    var loaded = chunks.filter(function (c) { return c.data }).length
    status.textContent = N === 0 ? 'no client ops in the history'
      : fmtS(Math.max(t0, 0)) + ' – ' + fmtS(Math.min(t1, tmax)) + ' · lanes ' + c0 + '–' + c1 + ' of ' + C + ' · ' + shown + ' bars drawn of ' + N +
        ' ops (' + loaded + ' of ' + chunks.length + ' chunks loaded)'
    if (firstDrawn) { firstDrawn(); firstDrawn = null }
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

  function show (ci, r) {
    var ch = chunks[ci].data
    selC = ci; selR = r
    var lines = []
    lines.push('op #' + ch.i[r] + (ch.j[r] >= 0 ? ' (completion #' + ch.j[r] + ')' : ' (no completion in the history)') +
      ' · process ' + ch.q[r] + (ch.nd[r] >= 0 ? ' · node ' + T.nodes[ch.nd[r]] : ''))
    lines.push(label(ch, r))
    lines.push('outcome ' + outcomes[ch.o[r]] + ' · invoked ' + fmtS(ch.s[r]) + ' · ' +
      (ch.j[r] >= 0 ? 'completed ' + fmtS(ch.e[r]) + ' · latency ' + ((ch.e[r] - ch.s[r]) / 1000).toFixed(2) + ' ms' : 'never completed'))
    if (ch.err[r] >= 0) lines.push('error: ' + T.errs[ch.err[r]])
    detail.textContent = lines.join('\n')
    render()
  }

  function jumpToTime (us, toSection) {
    if (toSection) document.getElementById('timeline').scrollIntoView()
    tl.scrollTop = Math.max(0, y(us) - tl.clientHeight / 3)
    render()
  }

  function setKeyFilter (k) {
    keyFilter = k
    keyIdx = T ? T.keys.indexOf(k) : -1
  }

  // jumpToOp loads the chunks whose index range holds idx, then finds it.
  function jumpToOp (idx) {
    var cand = []
    for (var ci = 0; ci < chunks.length; ci++) {
      var m = chunks[ci].meta
      if (m.i0 <= idx && idx <= m.i1) cand.push(ci)
    }
    document.getElementById('timeline').scrollIntoView()
    Promise.all(cand.map(load)).then(function () {
      for (var k = 0; k < cand.length; k++) {
        var ch = chunks[cand[k]].data
        if (!ch) continue
        for (var r = 0; r < ch.n; r++) {
          if (ch.i[r] === idx || ch.j[r] === idx) return showOp(cand[k], r)
        }
      }
      detail.textContent = 'op #' + idx + ' is not a client op of this history'
    })
  }

  function showOp (ci, r) {
    var ch = chunks[ci].data
    var dur = Math.max(ch.e[r] - ch.s[r], 1)
    if (dur * scale < 20) { scale = clampScale(20 / dur); setSize() }
    tl.scrollTop = Math.max(0, y(ch.s[r]) - tl.clientHeight / 3)
    tl.scrollLeft = Math.max(0, GUT + ch.lane[r] * COLW - tl.clientWidth / 3)
    // Show the op among the others of its key: the usual next question.
    if (ch.k[r] >= 0) {
      setKeyFilter(T.keys[ch.k[r]])
      document.getElementById('tl-key').value = keyFilter
    }
    show(ci, r)
  }

  function onHash () {
    var m = /^#op-(\d+)$/.exec(window.location.hash)
    if (m) { jumpToOp(parseInt(m[1], 10)); return }
    m = /^#t-(\d+)$/.exec(window.location.hash)
    if (m) jumpToTime(parseInt(m[1], 10) / 1000, true)
  }

  tl.addEventListener('scroll', schedule)
  window.addEventListener('resize', schedule)
  window.addEventListener('hashchange', function () { if (T) onHash() })
  inner.addEventListener('click', function (e) {
    var el = e.target.closest('.op')
    if (!el) return
    var ci = +el.dataset.c
    if (el.dataset.r0 !== undefined) {
      var ch = chunks[ci].data
      var r0 = +el.dataset.r0; var r1 = +el.dataset.r1
      var span = Math.max(ch.e[r1] - ch.s[r0], 1)
      zoomAt(Math.max(scale * 4, tl.clientHeight / 2 / span), (ch.s[r0] + ch.e[r1]) / 2)
      return
    }
    show(ci, +el.dataset.r)
  })
  document.getElementById('tl-zoom-in').addEventListener('click', function () { zoomAt(scale * 2, centre()) })
  document.getElementById('tl-zoom-out').addEventListener('click', function () { zoomAt(scale / 2, centre()) })
  document.getElementById('tl-fit').addEventListener('click', function () { zoomAt(fitScale(), tmax / 2) })
  document.getElementById('tl-goto').addEventListener('change', function (e) {
    var v = parseFloat(e.target.value)
    if (!isNaN(v)) jumpToTime(v * 1e6, false)
  })
  document.getElementById('tl-key').addEventListener('input', function (e) {
    setKeyFilter(e.target.value)
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


  // Start: the string tables and the long ops, then the first window. For
  // the tests' measurements (ms): when the script started, parsing the
  // header, inflating the start, the first drawing (with the chunks it
  // inflated), and when the timeline was ready by the page's clock.
  var t1 = performance.now()
  var tables = inflate(D.tables).then(function (b) { T = JSON.parse(utf8.decode(b)) })
  Promise.all([tables, load(0)]).then(function () {
    var t2 = performance.now()
    firstDrawn = function () {
      var t3 = performance.now()
      window.gauntletTiming = { start: t0, parse: t1 - t0, decode: t2 - t1, draw: t3 - t2, ready: t3 }
    }
    setSize()
    render()
    if (window.location.hash) onHash()
  }, function (err) {
    status.textContent = 'cannot read the timeline data: ' + err.message
  })
})()
