package web

import (
	"sort"
	"strconv"
	"strings"
)

// policyWords is /policy's text per language: those of the notification
// forms.
var policyWords = map[string]map[string]string{
	"en": {
		"title": "Security policy", "h1": "How to report a security incident",
		"intro": "Anyone — customer, researcher, partner, employee — may report a suspected vulnerability or incident by e-mail to",
		"or":    "or with the", "form": "report form",
		"ack":        "Every report gets an incident number and a signed acknowledgement.",
		"priorities": "Priority definitions", "priority": "Priority", "definition": "Definition",
		"key": "Our OpenPGP key", "fpr": "Fingerprint", "signed": "Every mail from the desk is signed with it (PGP/MIME).",
	},
	"de": {
		"title": "Sicherheitsrichtlinie", "h1": "So melden Sie einen Sicherheitsvorfall",
		"intro": "Jede und jeder — Kunden, Forschende, Partner, Mitarbeitende — kann eine vermutete Schwachstelle oder einen Vorfall melden, per E-Mail an",
		"or":    "oder über das", "form": "Meldeformular",
		"ack":        "Jede Meldung erhält eine Vorfallsnummer und eine signierte Eingangsbestätigung.",
		"priorities": "Prioritätsstufen", "priority": "Priorität", "definition": "Bedeutung",
		"key": "Unser OpenPGP-Schlüssel", "fpr": "Fingerabdruck", "signed": "Jede E-Mail des Teams ist damit signiert (PGP/MIME).",
	},
	"fr": {
		"title": "Politique de sécurité", "h1": "Comment signaler un incident de sécurité",
		"intro": "Chacun — client, chercheur, partenaire, employé — peut signaler une vulnérabilité ou un incident présumé par courriel à",
		"or":    "ou avec le", "form": "formulaire de signalement",
		"ack":        "Chaque signalement reçoit un numéro d'incident et un accusé de réception signé.",
		"priorities": "Définition des priorités", "priority": "Priorité", "definition": "Définition",
		"key": "Notre clé OpenPGP", "fpr": "Empreinte", "signed": "Chaque courriel de l'équipe est signé avec elle (PGP/MIME).",
	},
	"es": {
		"title": "Política de seguridad", "h1": "Cómo informar de un incidente de seguridad",
		"intro": "Cualquier persona — cliente, investigador, socio, empleado — puede informar de una presunta vulnerabilidad o incidente por correo a",
		"or":    "o con el", "form": "formulario de informe",
		"ack":        "Cada informe recibe un número de incidente y un acuse de recibo firmado.",
		"priorities": "Definición de prioridades", "priority": "Prioridad", "definition": "Definición",
		"key": "Nuestra clave OpenPGP", "fpr": "Huella", "signed": "Todo correo del equipo va firmado con ella (PGP/MIME).",
	},
	"ja": {
		"title": "セキュリティポリシー", "h1": "セキュリティインシデントの報告方法",
		"intro": "お客様、研究者、パートナー、従業員など、どなたでも脆弱性やインシデントの疑いを報告できます。メールの宛先:",
		"or":    "または", "form": "報告フォーム",
		"ack":        "すべての報告にインシデント番号を付け、署名付きの受領通知をお送りします。",
		"priorities": "優先度の定義", "priority": "優先度", "definition": "定義",
		"key": "当チームの OpenPGP 鍵", "fpr": "フィンガープリント", "signed": "当チームのメールはすべてこの鍵で署名されています (PGP/MIME)。",
	},
}

// policyLanguage returns the best language /policy is written in for an
// Accept-Language header (RFC 9110 section 12.5.4: quality values, "de-CH"
// matching "de"), or English.
func policyLanguage(header string) string {
	type pref struct {
		lang string
		q    float64
	}
	var prefs []pref
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		tag = strings.ToLower(strings.TrimSpace(tag))
		if i := strings.IndexAny(tag, "-_"); i > 0 {
			tag = tag[:i]
		}
		if tag != "" && q > 0 {
			prefs = append(prefs, pref{tag, q})
		}
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	for _, p := range prefs {
		if _, ok := policyWords[p.lang]; ok {
			return p.lang
		}
	}
	return "en"
}
