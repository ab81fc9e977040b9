package parsers

import (
	"fmt"
	"strings"
	"testing"
)

// TestWeaknessClassesInEveryLanguage (issue 18): each common class of
// vulnerability, named in each of the seven triage languages in an
// otherwise plain sentence, makes a vulnerability report of that class
// (an open redirect was filed as "other", P4).
func TestWeaknessClassesInEveryLanguage(t *testing.T) {
	langs := []string{"en", "de", "fr", "es", "ja", "zh", "ko"}
	frames := map[string]string{
		"en": "Hello, I found %s on https://shop.example.com/login yesterday. The details follow below.",
		"de": "Hallo, ich habe gestern %s auf https://shop.example.com/login gefunden. Die Details folgen unten.",
		"fr": "Bonjour, j'ai trouvé hier %s sur https://shop.example.com/login. Les détails suivent ci-dessous.",
		"es": "Hola, ayer encontré %s en https://shop.example.com/login. Los detalles siguen abajo.",
		"ja": "こんにちは。昨日、https://shop.example.com/login で%sを見つけました。詳細は以下の通りです。",
		"zh": "你好，我昨天在 https://shop.example.com/login 发现了%s。详情如下。",
		"ko": "안녕하세요. 어제 https://shop.example.com/login 에서 %s 문제를 발견했습니다. 자세한 내용은 아래와 같습니다.",
	}
	for _, tc := range []struct {
		class Weakness
		words [7]string // en, de, fr, es, ja, zh, ko
	}{
		{WeaknessXSS, [7]string{"a stored XSS", "ein Cross-Site-Scripting", "un script intersite réfléchi", "secuencias de comandos en sitios cruzados", "クロスサイトスクリプティング", "跨站脚本", "크로스 사이트 스크립팅"}},
		{WeaknessSQLInjection, [7]string{"an SQL injection", "eine SQL-Injection", "une injection SQL", "una inyección SQL", "SQLインジェクション", "SQL注入", "SQL 인젝션"}},
		{WeaknessOpenRedirect, [7]string{"an open redirect", "eine offene Weiterleitung", "une redirection ouverte", "una redirección abierta", "オープンリダイレクト", "开放重定向", "오픈 리다이렉트"}},
		{WeaknessSSRF, [7]string{"a server-side request forgery", "eine serverseitige Anfragefälschung", "une falsification de requête côté serveur", "una falsificación de solicitudes del lado del servidor", "サーバーサイドリクエストフォージェリ", "服务端请求伪造", "서버 측 요청 위조"}},
		{WeaknessRCE, [7]string{"a remote code execution", "eine Codeausführung aus der Ferne", "une exécution de code à distance", "una ejecución remota de código", "リモートコード実行", "远程代码执行", "원격 코드 실행"}},
		{WeaknessCSRF, [7]string{"a cross-site request forgery", "eine seitenübergreifende Anfragefälschung", "une falsification de requête intersite", "una falsificación de solicitudes entre sitios", "クロスサイトリクエストフォージェリ", "跨站请求伪造", "사이트 간 요청 위조"}},
		{WeaknessIDOR, [7]string{"an insecure direct object reference", "eine unsichere direkte Objektreferenz", "une référence directe à un objet non sécurisée", "una referencia directa insegura a objetos", "安全でない直接オブジェクト参照", "不安全的直接对象引用", "안전하지 않은 직접 객체 참조"}},
		{WeaknessPathTraversal, [7]string{"a path traversal", "eine Verzeichnisdurchquerung", "une traversée de répertoires", "un recorrido de directorios", "ディレクトリトラバーサル", "目录遍历", "디렉터리 트래버설"}},
		{WeaknessXXE, [7]string{"an XML external entity", "eine externe XML-Entität", "une entité externe XML", "una entidad externa XML", "XML外部実体", "XML外部实体", "XML 외부 엔티티"}},
		{WeaknessDeserialise, [7]string{"an insecure deserialization", "eine unsichere Deserialisierung", "une désérialisation non sécurisée", "una deserialización insegura", "安全でないデシリアライズ", "不安全的反序列化", "안전하지 않은 역직렬화"}},
		{WeaknessAuthBypass, [7]string{"an authentication bypass", "eine Authentifizierungsumgehung", "un contournement de l'authentification", "una omisión de autenticación", "認証回避", "身份验证绕过", "인증 우회"}},
		{WeaknessInfoDisclosure, [7]string{"an information disclosure", "eine Informationspreisgabe", "une divulgation d'informations", "una divulgación de información", "情報露出", "信息泄漏", "정보 노출"}},
	} {
		for i, lang := range langs {
			t.Run(string(tc.class)+"/"+lang, func(t *testing.T) {
				text := fmt.Sprintf(frames[lang], tc.words[i])
				subject, _, _ := strings.Cut(text, ".")
				raw := "From: r@example.org\r\nSubject: " + subject + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
				r, err := Parse([]byte(raw), DefaultLimits)
				if err != nil {
					t.Fatal(err)
				}
				if r.Category != CategoryVulnerability || r.Weakness != tc.class || r.Priority == "P4" {
					t.Errorf("%q: category %s, weakness %q, %s; want vulnerability, %s, above P4", text, r.Category, r.Weakness, r.Priority, tc.class)
				}
			})
		}
	}
	// Without one of them, a plain sentence is no vulnerability report.
	r, err := Parse([]byte("From: r@example.org\r\nSubject: Hello\r\n\r\n"+fmt.Sprintf(frames["en"], "a typo")+"\r\n"), DefaultLimits)
	if err != nil || r.Category != CategoryOther || r.Weakness != "" {
		t.Errorf("a typo: %v %s %q", err, r.Category, r.Weakness)
	}
}
