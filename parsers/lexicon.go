package parsers

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Concept is one thing a report can speak of, in any language: the
// triage rules (category, priority) are written against concepts, and the
// lexicon says how each is worded in the languages reports come in.
type Concept string

// The concepts triage knows.
const (
	ConceptVulnerability Concept = "vulnerability"
	ConceptInTheWild     Concept = "exploited-in-the-wild"
	ConceptBreach        Concept = "compromise"
	ConceptRansomware    Concept = "ransomware*"
	ConceptDataLeak      Concept = "data-leak"
	ConceptCredentials   Concept = "credentials-exposed"
	ConceptPhishing      Concept = "phishing"
	ConceptMalware       Concept = "malware*"
	ConceptDoS           Concept = "denial-of-service"
	ConceptSevere        Concept = "severe-weakness" // RCE, SQL injection, authentication bypass, "critical"
	ConceptAttack        Concept = "attack"
	ConceptAbuse         Concept = "abuse"
	ConceptAdvisory      Concept = "advisory"
	// ConceptRefusal is a call-tree answer that declines the step: not
	// the person's system, the wrong person, ask someone else. It is no
	// acknowledgement, whatever word it starts with.
	ConceptRefusal Concept = "refusal"
	// ConceptBlocker is a call-tree answer that says the work is stuck:
	// it fails, they cannot, they need help. The step is blocked, and the
	// team member on call is told.
	ConceptBlocker Concept = "blocker"
)

// lexicon words each concept in English, German, French, Spanish,
// Japanese, Chinese (simplified and traditional) and Korean, lower case.
// A Latin-script term is a whole word or phrase, or, ending in "*", a stem
// that may run on ("vulnerab*" matches "vulnerable", "vulnerabilities");
// terms in scripts written without spaces match anywhere.
var lexicon = map[Concept][]string{
	ConceptVulnerability: {
		// en
		"vulnerab*", "exploit*", "xss", "cross-site", "cross site", "sql injection", "sqli", "injection*", "remote code execution", "rce", "csrf", "ssrf",
		"buffer overflow", "privilege escalation", "path traversal", "directory traversal", "idor", "authentication bypass",
		"security flaw", "security bug", "security issue", "security hole", "proof of concept", "poc", "bug bounty", "cve-*",
		// de
		"sicherheitslücke*", "sicherheitsluecke*", "schwachstelle*", "verwundbar*", "sicherheitsproblem*", "sicherheitsfehler*", "injektion*",
		"pufferüberlauf*", "rechteausweitung*", "codeausführung*",
		// fr
		"vulnérabilit*", "vulnerabilit*", "faille*", "exécution de code", "élévation de privilèges", "dépassement de tampon", "preuve de concept",
		// es
		"vulnerabilidad*", "fallo de seguridad", "agujero de seguridad", "inyección*", "ejecución remota de código", "escalada de privilegios",
		"desbordamiento de búfer", "prueba de concepto",
		// ja
		"脆弱性", "クロスサイトスクリプティング", "インジェクション", "リモートコード実行", "権限昇格", "バッファオーバーフロー", "セキュリティホール",
		// zh
		"漏洞", "跨站脚本", "跨站腳本", "注入", "远程代码执行", "遠端程式碼執行", "权限提升", "權限提升", "缓冲区溢出", "安全缺陷",
		// ko
		"취약점", "크로스 사이트 스크립팅", "인젝션", "원격 코드 실행", "권한 상승", "버퍼 오버플로",
	},
	ConceptInTheWild: {
		"actively exploited", "exploited in the wild", "in the wild", "being exploited", "zero-day", "zero day", "0day", "0-day",
		"aktiv ausgenutzt", "wird ausgenutzt", "werden ausgenutzt", "zero-day-lücke*",
		"activement exploitée", "exploitée activement", "exploitation active", "en cours d'exploitation",
		"explotada activamente", "explotación activa", "siendo explotad*", "día cero",
		"悪用されている", "実際に悪用", "ゼロデイ",
		"在野利用", "被积极利用", "正在被利用", "零日", "被利用",
		"악용되고", "실제 악용", "제로데이",
	},
	ConceptBreach: {
		"breach*", "compromised", "compromise of", "datenschutzverletzung*", "intrusion*", "exfiltrat*", "backdoor*", "unauthorized access", "unauthorised access", "hacked",
		"kompromittiert*", "einbruch", "eingebrochen", "unbefugter zugriff", "unberechtigter zugriff", "gehackt", "hintertür",
		"compromis*", "piraté*", "accès non autorisé", "porte dérobée", "exfiltration*",
		"comprometid*", "intrusión*", "hackead*", "acceso no autorizado", "puerta trasera", "exfiltración*",
		"侵害", "不正アクセス", "侵入", "乗っ取", "バックドア",
		"入侵", "被攻破", "未经授权的访问", "未經授權", "后门", "後門", "数据外泄",
		"침해", "무단 접근", "침입", "해킹", "백도어",
	},
	ConceptRansomware: {
		"ransomware*", "erpressungstrojaner*", "verschlüsselungstrojaner*", "rançongiciel*", "secuestro de datos",
		"ランサムウェア", "勒索软件", "勒索病毒", "勒索軟體", "랜섬웨어",
	},
	ConceptDataLeak: {
		"data leak", "data breach", "leaked data", "data exposure", "exposed data", "database dump",
		"datenleck*", "datenpanne*", "datenabfluss*", "daten veröffentlicht",
		"fuite de données", "fuite d'informations", "données exposées",
		"fuga de datos", "filtración de datos", "datos expuestos",
		"情報漏洩", "情報漏えい", "データ漏洩", "個人情報流出", "流出",
		"数据泄露", "數據洩露", "資料外洩", "信息泄露",
		"데이터 유출", "정보 유출", "개인정보 유출",
	},
	ConceptCredentials: {
		"credentials exposed", "exposed credentials", "leaked credentials", "leaked password", "password leak", "passwords leaked",
		"api key exposed", "exposed api key", "leaked api key", "exposed token", "leaked token", "secret leaked", "hardcoded password",
		"zugangsdaten*", "passwörter veröffentlicht", "kennwörter*",
		"identifiants*", "mots de passe divulgués", "fuite de mots de passe",
		"credenciales*", "contraseñas filtradas",
		"認証情報", "パスワード流出", "パスワードが漏",
		"凭据泄露", "密码泄露", "密碼外洩", "凭证",
		"자격 증명", "비밀번호 유출",
	},
	ConceptPhishing: {
		"phishing", "phish*", "credential harvesting", "hameçonnage*", "suplantación de identidad",
		"フィッシング", "钓鱼", "釣魚", "피싱",
	},
	ConceptMalware: {
		"malware*", "virus*", "trojan*", "worm", "botnet*", "spyware*", "infected", "infection*",
		"schadsoftware*", "schadprogramm*", "trojaner*", "infiziert*",
		"logiciel malveillant", "maliciel*", "cheval de troie", "infecté*",
		"software malicioso", "troyano*", "infectad*",
		"マルウェア", "ウイルス", "トロイの木馬", "感染",
		"恶意软件", "惡意軟體", "木马", "木馬", "病毒",
		"악성코드", "악성 코드", "트로이 목마", "감염",
	},
	ConceptDoS: {
		"denial of service", "denial-of-service", "ddos", "dos attack",
		"dienstverweigerung*", "überlastungsangriff*", "déni de service", "denegación de servicio",
		"サービス拒否", "サービス妨害", "拒绝服务", "阻斷服務", "서비스 거부", "디도스",
	},
	ConceptSevere: {
		"critical", "remote code execution", "rce", "sql injection", "sqli", "authentication bypass", "privilege escalation",
		"kritisch*", "sql-injektion*", "sql-injection*", "codeausführung*", "authentifizierung umgangen", "rechteausweitung*",
		"critique*", "injection sql", "exécution de code à distance", "contournement de l'authentification", "élévation de privilèges",
		"crític*", "inyección sql", "inyección de sql", "ejecución remota de código", "omisión de autenticación", "escalada de privilegios",
		"緊急", "重大", "sqlインジェクション", "リモートコード実行", "認証回避", "権限昇格",
		"严重", "嚴重", "高危", "sql注入", "远程代码执行", "遠端程式碼執行", "认证绕过", "权限提升",
		"긴급", "심각", "sql 인젝션", "원격 코드 실행", "인증 우회", "권한 상승",
	},
	ConceptAttack: {
		"attack*", "cyberattack*", "angriff*", "cyberangriff*", "attaque*", "cyberattaque*", "ataque*", "ciberataque*",
		"攻撃", "攻击", "攻擊", "공격",
	},
	ConceptAbuse: {
		"abuse", "spam*", "scanning", "brute-force", "brute force", "bruteforce", "copyright", "dmca",
		"missbrauch*", "urheberrecht*", "abus*", "force brute", "abuso", "fuerza bruta",
		"迷惑メール", "スパム", "ブルートフォース", "垃圾邮件", "暴力破解", "滥用", "스팸", "무차별 대입", "남용",
	},
	ConceptRefusal: {
		// en
		"not my system", "not my systems", "not my server", "not my area", "not my responsibility", "not responsible for this",
		"not in charge of", "no longer responsible", "wrong person", "wrong contact", "wrong address", "wrong recipient",
		"find someone else", "ask someone else", "someone else's system",
		// de
		"nicht mein system", "nicht meine systeme", "nicht zuständig", "nicht mehr zuständig", "bin nicht verantwortlich",
		"falsche person", "falscher ansprechpartner", "falsche ansprechperson", "falscher empfänger", "jemand anderen fragen", "jemand anderes fragen", "an jemand anderen", "bitte jemand anderen",
		// fr
		"pas mon système", "pas mes systèmes", "pas de mon ressort", "pas responsable", "ne suis pas responsable", "mauvaise personne",
		"mauvais interlocuteur", "mauvais destinataire", "à quelqu'un d'autre", "à quelqu’un d’autre", "trouver quelqu'un d'autre",
		"trouvez quelqu'un d'autre",
		// es
		"no es mi sistema", "no son mis sistemas", "no soy responsable", "no es mi responsabilidad", "no me corresponde",
		"persona equivocada", "persona incorrecta", "destinatario equivocado", "a otra persona", "a alguien más",
		// ja
		"担当外", "担当ではありません", "担当ではない", "私の担当では", "人違い", "宛先違い", "別の方に", "他の方に", "別の人に",
	},
	ConceptBlocker: {
		// en
		"need help", "needs help", "need your help", "need assistance", "help needed", "fails", "failed", "failing",
		"cannot", "can't", "can not", "unable to", "blocked", "stuck", "does not work", "doesn't work", "not working",
		// de
		"brauche hilfe", "brauchen hilfe", "benötige hilfe", "benötigen hilfe", "hilfe nötig", "hilfe benötigt",
		"schlägt fehl", "fehlgeschlagen", "scheitert", "kann nicht", "können nicht", "funktioniert nicht",
		"blockiert", "komme nicht weiter", "kommen nicht weiter",
		// fr
		"besoin d'aide", "besoin d’aide", "échoue", "a échoué", "échec", "impossible de", "impossible d'*", "impossible d’*", "ne peux pas",
		"ne pouvons pas", "bloqué*", "ne fonctionne pas",
		// es
		"necesito ayuda", "necesitamos ayuda", "falla", "falló", "ha fallado", "no puedo", "no podemos", "no es posible",
		"bloquead*", "no funciona",
		// ja
		"助けが必要", "支援が必要", "手伝って", "失敗", "できません", "できない", "ブロック", "進められません", "動作しません",
	},
	ConceptAdvisory: {
		"advisory", "security bulletin", "data call", "notification of", "patch available", "patch released",
		"sicherheitshinweis*", "sicherheitswarnung*", "patch verfügbar",
		"avis de sécurité", "bulletin de sécurité", "correctif disponible",
		"aviso de seguridad", "boletín de seguridad", "parche disponible",
		"セキュリティアドバイザリ", "注意喚起", "安全公告", "安全通告", "보안 권고", "보안 공지",
	},
}

// term is one lexicon entry ready to match.
type term struct {
	text  string // lower case
	stem  bool   // may run on
	space bool   // in a script written with spaces: match at word starts
}

var terms = func() map[Concept][]term {
	out := map[Concept][]term{}
	for c, list := range lexicon {
		for _, t := range list {
			out[c] = append(out[c], newTerm(t))
		}
	}
	return out
}()

// newTerm reads one lexicon entry.
func newTerm(t string) term {
	return term{text: strings.ToLower(strings.TrimSuffix(t, "*")), stem: strings.HasSuffix(t, "*"), space: !spaceless(t)}
}

// maxTriageText bounds how much of a report triage reads: the subject
// and the start of the text say what a report is about.
const maxTriageText = 64 << 10

// triage is a report's text as triage reads it, with each concept looked
// up at most once: category and priority ask about the same words.
type triage struct {
	text  string
	found map[Concept]string
}

func newTriage(subject, text string) *triage {
	return &triage{text: triageText(subject, text), found: map[Concept]string{}}
}

// mentions is mentions(c, t.text), remembered.
func (t *triage) mentions(c Concept) string {
	if m, ok := t.found[c]; ok {
		return m
	}
	m := mentions(c, t.text)
	t.found[c] = m
	return m
}

// weakness is the vulnerability wording of the text outside the phrases
// of exploitation in the wild: "actively exploited" says that something
// happens, not that a weakness is reported ("Ransomware on pay,
// actively exploited" is an incident; "a vulnerability, actively
// exploited" is still a vulnerability report).
func (t *triage) weakness() string {
	masked := []byte(t.text)
	for _, tt := range terms[ConceptInTheWild] {
		for off := 0; ; {
			i := strings.Index(t.text[off:], tt.text)
			if i < 0 {
				break
			}
			i += off
			end := i + len(tt.text)
			if !tt.space || wordStart(t.text, i) && (tt.stem || wordEnd(t.text, end)) {
				for j := i; j < end; j++ {
					masked[j] = ' '
				}
			}
			off = i + 1
		}
	}
	return mentions(ConceptVulnerability, string(masked))
}

// mentionsAny returns the first of concepts the text mentions, or "".
func (t *triage) mentionsAny(concepts ...Concept) Concept {
	for _, c := range concepts {
		if t.mentions(c) != "" {
			return c
		}
	}
	return ""
}

// triageText is what triage reads: subject and text, lower case, capped.
func triageText(subject, text string) string {
	if len(text) > maxTriageText {
		text = strings.ToValidUTF8(text[:maxTriageText], "")
	}
	return strings.ToLower(subject + "\n" + text)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

// mentions returns the first term of concept c (in lexicon order) that
// lower, a triageText, contains, or "".
func mentions(c Concept, lower string) string {
	for _, t := range terms[c] {
		for off := 0; ; {
			i := strings.Index(lower[off:], t.text)
			if i < 0 {
				break
			}
			i += off
			end := i + len(t.text)
			if !t.space || wordStart(lower, i) && (t.stem || wordEnd(lower, end)) {
				return t.text
			}
			off = i + 1
		}
	}
	return ""
}

func wordStart(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !isWordRune(r)
}

func wordEnd(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isWordRune(r)
}

// spaceless reports whether t is in a script written without spaces
// between words (Han, kana, Hangul is treated alike: particles attach).
func spaceless(t string) bool {
	for _, r := range t {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			return true
		}
	}
	return false
}

// Verbs of a call-tree answer, as AnswerVerb returns them.
const (
	AnswerAck  = "ack"
	AnswerDone = "done"
)

// answerWords answer a call-tree mail, in the languages of the forms
// (en, de, fr, es, ja), lower case.
var answerWords = map[string]string{
	"ack": AnswerAck, "acknowledged": AnswerAck, "ok": AnswerAck, "bestätigt": AnswerAck, "quittiert": AnswerAck,
	"reçu": AnswerAck, "recibido": AnswerAck, "了解": AnswerAck, "確認": AnswerAck,
	"done": AnswerDone, "erledigt": AnswerDone, "fertig": AnswerDone, "fait": AnswerDone, "terminé": AnswerDone,
	"hecho": AnswerDone, "listo": AnswerDone, "完了": AnswerDone,
}

// AnswerVerb is the verb (AnswerAck, AnswerDone) a call-tree answer's
// first word gives, or "" when it is no answer word.
func AnswerVerb(word string) string {
	return answerWords[strings.ToLower(word)]
}

// Refusal returns the words of text that decline a call-tree step ("not
// my system", "falsche Person"), or "": such an answer is no
// acknowledgement, even when it starts with "OK".
func Refusal(text string) string {
	return mentions(ConceptRefusal, strings.ToLower(text))
}

// Blocker returns the words of text that say a call-tree step is stuck
// ("fails", "need help", "schlägt fehl"), or "": such an answer is
// neither ack nor done, and the step is blocked.
func Blocker(text string) string {
	return mentions(ConceptBlocker, strings.ToLower(text))
}
